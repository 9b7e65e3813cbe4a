#pragma once
// The PUBLISH frames on which every reader must agree with the DOM path (rtev::parse_json, then
// decode_op): tests/server/publish_frame_test.cpp checks decode_publish_frame against the DOM
// path on each, and bench/micro/parse_publish.cpp checks its variants against one another on
// those marked `in_bench` before it times them. One table, so that the benchmark measures what
// the test checks.

#include <cstddef>
#include <string>
#include <vector>

namespace rtev::test {

/// `depth` nested empty arrays: `[[…]]`.
inline std::string nest(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

/// A PUBLISH frame whose event data is about `data_bytes` long.
inline std::string publish_frame(std::size_t data_bytes) {
  // {"bench_t":…,"pad":"…"} is 39 bytes without the pad.
  const std::size_t pad = data_bytes > 39 ? data_bytes - 39 : 1;
  return R"({"type":"PUBLISH","ref":"r1","data":{"type":"bench","room":"room-0","data":{"bench_t":1733500000000000,"pad":")" +
         std::string(pad, 'x') + R"("}}})";
}

/// A PUBLISH frame with nested event data: objects, arrays, numbers, literals and escapes.
inline std::string nested_frame() {
  std::string items;
  for (int i = 0; i < 6; ++i)
    items += std::string(i ? "," : "") + R"({"sku":"A-)" + std::to_string(i) + R"(","qty":)" +
             std::to_string(i + 1) + R"(,"price":)" + std::to_string(i) +
             R"(.99,"tags":["new","sale"]})";
  return R"({"type":"PUBLISH","ref":42,"data":{"type":"order.updated","room":"orders:eu","data":)"
         R"({"order":{"id":"o-1029","user":{"id":7,"name":"Zo\u00eb Ünal","roles":["buyer","beta"]},)"
         R"("items":[)" +
         items +
         R"(],"total":{"amount":1234.5,"currency":"EUR"},"flags":{"gift":true,"paid":false,)"
         R"("note":null},"text":"line one\nline \"two\" \u2713"}}}})";
}

struct agreement_frame {
  const char* name;
  std::string text;
  const char* dom;  ///< the DOM path's verdict: ok, bad_json, bad_request, other (operation)
  bool fast;        ///< taken by decode_publish_frame (else left to the DOM path)
  /// In the benchmark's check: its variants read only type, ref, data.type, data.room and
  /// data.data, and check no names, so a frame whose verdict turns on more is the test's alone.
  bool in_bench;
};

inline std::vector<agreement_frame> agreement_frames() {
  return {
      {"publish 50 B", publish_frame(50), "ok", true, true},
      {"publish nested", nested_frame(), "ok", true, true},
      {"blanks everywhere",
       " {\n \"type\" : \"publish\" ,\"ref\" : \"a\\\"b\", \"data\" : { \"room\" : \"r\" , "
       "\"data\" :\t[ 1 , {\"k\" : \"v\"} ] \n, \"type\" : \"t\" } } \n",
       "ok", true, true},
      {"data.data a number", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":-12.5e3}})",
       "ok", true, true},
      {"data.data a string",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"s\u00e9\"x"}})", "ok", true,
       true},
      {"data.data a literal", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":true}})",
       "ok", true, true},
      {"data.data null", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":null}})", "ok",
       true, true},
      {"data.data missing", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", true,
       true},
      {"data.data last", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":[]}}})",
       "ok", true, true},
      {"room with an escape (a valid name)",
       R"({"type":"PUBLISH","data":{"type":"t\u002e1","room":"r\u002d1","data":1}})", "ok", true,
       true},
      {"duplicate top-level type",
       R"({"type":"X","type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", false, true},
      {"duplicate data (last wins)",
       R"({"type":"PUBLISH","data":{"type":"a","room":"r1","data":1},"data":{"type":"b","room":"r2"}})",
       "ok", true, true},
      {"duplicate ref (last wins)",
       R"({"ref":"a","type":"PUBLISH","ref":7,"data":{"type":"t","room":"r"}})", "ok", true, true},
      {"depth 128", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":)" + nest(126) + "}}",
       "ok", true, true},
      {"unknown fields, deep",
       R"({"x":)" + nest(127) + R"(,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "ok", true,
       true},
      {"ref escaped", R"({"type":"PUBLISH","ref":"\u00e9\/","data":{"type":"t","room":"r"}})", "ok",
       true, true},
      {"ref an object (ignored)",
       R"({"type":"PUBLISH","ref":{"a":1},"data":{"type":"t","room":"r"}})", "ok", true, true},
      {"ref a decimal number", R"({"type":"PUBLISH","ref":1.50,"data":{"type":"t","room":"r"}})",
       "ok", false, true},
      {"ref -0", R"({"type":"PUBLISH","ref":-0,"data":{"type":"t","room":"r"}})", "ok", false,
       true},
      {"id and broadcast",
       R"({"type":"PUBLISH","data":{"type":"t","broadcast":true,"id":"e-1","room":null}})", "ok",
       true, false},
      {"broadcast false and a room",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","broadcast":false}})", "ok", true, true},
      {"user_id (left to the DOM)", R"({"type":"PUBLISH","data":{"type":"t","user_id":42}})", "ok",
       false, false},
      {"user_ids (left to the DOM)",
       R"({"type":"PUBLISH","data":{"type":"t","user_ids":["a","b"]}})", "ok", false, false},
      {"another operation", R"({"type":"PING","ref":1})", "other", false, false},
      {"subscribe with data first", R"({"data":{"room":"r"},"type":"subscribe"})", "other", false,
       false},
      // bad_json
      {"depth 129", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":)" + nest(127) + "}}",
       "bad_json", false, true},
      {"depth 129 in an unread field",
       R"({"x":)" + nest(128) + R"(,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "bad_json",
       false, true},
      {"invalid UTF-8 in data.data",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc3x\"}}",
       "bad_json", false, true},
      {"invalid UTF-8 in an unread field",
       "{\"z\":\"\xff\",\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}", "bad_json",
       false, true},
      {"overlong UTF-8",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc0\xaf\"}}",
       "bad_json", false, true},
      {"UTF-16 surrogate in UTF-8",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xed\xa0\x80\"}}",
       "bad_json", false, true},
      {"lone \\ud800 escape",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"\ud800"}})", "bad_json", false,
       true},
      {"bad escape", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"\q"}})", "bad_json",
       false, true},
      {"control char in string",
       "{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"a\x01\"}}",
       "bad_json", false, true},
      {"trailing garbage", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}} x)", "bad_json",
       false, true},
      {"second document", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}}{})", "bad_json",
       false, true},
      {"trailing comma", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[1,2,]}})",
       "bad_json", false, true},
      {"missing comma in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[1 2]}})", "bad_json", false,
       true},
      {"bad number in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":[01]}})", "bad_json", false, true},
      {"bad literal in data.data",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":tru}}})", "bad_json", false,
       true},
      {"bad literal in an unread field",
       R"({"q":nul,"type":"PUBLISH","data":{"type":"t","room":"r"}})", "bad_json", false, true},
      {"missing colon", R"({"type" "PUBLISH","data":{"type":"t","room":"r"}})", "bad_json", false,
       true},
      {"single quotes", R"({'type':'PUBLISH'})", "bad_json", false, true},
      {"unterminated", R"({"type":"PUBLISH","data":{"type":"t","room":"r")", "bad_json", false,
       true},
      {"bad and mistyped", R"({"type":5,"data":{"type":"t","room":"r"},)", "bad_json", false, true},
      {"empty", "", "bad_json", false, true},
      // bad_request
      {"not an object", R"([{"type":"PUBLISH"}])", "bad_request", false, true},
      {"a string", R"("PUBLISH")", "bad_request", false, true},
      {"type not a string", R"({"type":5,"data":{"type":"t","room":"r"}})", "bad_request", false,
       true},
      {"data not an object", R"({"type":"PUBLISH","data":[1]})", "bad_request", false, true},
      {"data null", R"({"type":"PUBLISH","data":null})", "bad_request", false, true},
      {"no event type", R"({"type":"PUBLISH","data":{"room":"r"}})", "bad_request", false, true},
      {"event type a number", R"({"type":"PUBLISH","data":{"type":1,"room":"r"}})", "bad_request",
       false, true},
      {"no room", R"({"type":"PUBLISH","data":{"type":"t"}})", "bad_request", false, true},
      {"room with escapes (not a valid name)",
       R"({"type":"PUBLISH","data":{"type":"t","room":"a\tb\u0001","data":1}})", "bad_request",
       false, false},
      {"room and broadcast",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","broadcast":true}})", "bad_request",
       false, false},
      {"id too long",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","id":")" + std::string(129, 'i') +
           R"("}})",
       "bad_request", false, false},
      {"id empty", R"({"type":"PUBLISH","data":{"type":"t","room":"r","id":""}})", "bad_request",
       false, false},
      {"broadcast not a boolean", R"({"type":"PUBLISH","data":{"type":"t","broadcast":"yes"}})",
       "bad_request", false, false},
  };
}

/// Text no client should send, on which nlohmann and simdjson 3.0 may differ: the benchmark
/// notes what each variant says; the test checks that decode_publish_frame leaves to the DOM
/// path what simdjson refuses and never accepts what the DOM path refuses.
struct noted_frame {
  const char* name;
  std::string text;
  bool simdjson_refuses;  ///< known to be refused by simdjson (and accepted by nlohmann)
};

inline std::vector<noted_frame> noted_frames() {
  return {
      {"UTF-8 BOM before the frame",
       "\xef\xbb\xbf{\"type\":\"PUBLISH\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}", true},
      {"integer past 2^64",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":18446744073709551616}})", true},
      {"NUL byte after the frame",
       std::string(R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})") + '\0', true},
      {"number out of double range",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":1e400}})", false},
  };
}

}  // namespace rtev::test
