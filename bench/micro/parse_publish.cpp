// Micro-benchmark for issue 12, "parse client frames without per-field copies": what one
// PUBLISH frame costs from its text to the stored envelope's text, with
//   A. today's path: rtev::parse_json to a DOM, the field reads and the copies the server makes
//      (handle_operation copies `data`, parse_publish copies `data.data`, the envelope copies
//      it again), then nlohmann dump();
//   B. the same DOM without the copies (moves), to show how much of A the copies are;
//   C. nlohmann SAX: type/ref/room/event type extracted, the byte range of `data.data` recorded
//      and spliced raw into an envelope built by string appends;
//   D. simdjson on demand (when built with simdjson): every value walked (full validation, depth
//      128), the same fields, `data.data` spliced raw;
//   E. simdjson DOM (when built with simdjson): full validation by the parser, `data.data`
//      re-serialised with simdjson::minify.
// First it checks that all variants agree on a set of good and bad frames (and exits non-zero
// if they do not), then it times them interleaved, several runs, and prints medians and ratios.
//
// Usage: rtev_parse_bench [--runs N] [--ms MILLISECONDS_PER_SAMPLE] [--check-only]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parse_variants.hpp"
#include "rtev/json.hpp"

#ifdef RTEV_HAVE_SIMDJSON
#include <simdjson.h>
#endif

using namespace parse_bench;

namespace {

// ---- the frames ----------------------------------------------------------------------------

std::string publish_frame(std::size_t data_bytes) {
  // {"bench_t":…,"pad":"…"} is 39 bytes without the pad.
  const std::size_t pad = data_bytes > 39 ? data_bytes - 39 : 1;
  return R"({"type":"PUBLISH","ref":"r1","data":{"type":"bench","room":"room-0","data":{"bench_t":1733500000000000,"pad":")" +
         std::string(pad, 'x') + R"("}}})";
}

std::string nested_frame() {
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

std::string nest(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

struct check_case {
  const char* name;
  std::string text;
};

std::vector<check_case> check_cases() {
  std::vector<check_case> c = {
      {"publish 50 B", publish_frame(50)},
      {"publish nested", nested_frame()},
      {"blanks everywhere",
       " {\n \"type\" : \"publish\" ,\"ref\" : \"a\\\"b\", \"data\" : { \"room\" : \"r\" , "
       "\"data\" :\t[ 1 , {\"k\" : \"v\"} ] \n, \"type\" : \"t\" } } \n"},
      {"data.data a number", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":-12.5e3}})"},
      {"data.data a string",
       R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":"s\u00e9\"x"}})"},
      {"data.data a literal", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":true}})"},
      {"data.data missing", R"({"type":"PUBLISH","data":{"type":"t","room":"r"}})"},
      {"data.data last", R"({"type":"PUBLISH","data":{"type":"t","room":"r","data":{"a":[]}}})"},
      {"room with escapes",
       R"({"type":"PUBLISH","data":{"type":"t","room":"a\tb\u0001","data":1}})"},
      {"duplicate top-level type",
       R"({"type":"X","type":"PUBLISH","data":{"type":"t","room":"r"}})"},
      {"duplicate data (last wins)",
       R"({"type":"P","data":{"type":"a","room":"r1","data":1},"data":{"type":"b","room":"r2"}})"},
      {"duplicate key inside data.data",
       R"({"type":"P","data":{"type":"t","room":"r","data":{"k":1,"k":2}}})"},
      {"depth 128", R"({"type":"P","data":{"type":"t","room":"r","data":)" + nest(126) + "}}"},
      {"unknown fields, deep",
       R"({"x":)" + nest(127) + R"(,"type":"P","data":{"type":"t","room":"r"}})"},
      // bad_json
      {"depth 129", R"({"type":"P","data":{"type":"t","room":"r","data":)" + nest(127) + "}}"},
      {"depth 129 in an unread field",
       R"({"x":)" + nest(128) + R"(,"type":"P","data":{"type":"t","room":"r"}})"},
      {"invalid UTF-8 in data.data",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc3x\"}}"},
      {"invalid UTF-8 in an unread field",
       "{\"z\":\"\xff\",\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}"},
      {"overlong UTF-8",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xc0\xaf\"}}"},
      {"UTF-16 surrogate in UTF-8",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"\xed\xa0\x80\"}}"},
      {"lone \\ud800 escape", R"({"type":"P","data":{"type":"t","room":"r","data":"\ud800"}})"},
      {"bad escape", R"({"type":"P","data":{"type":"t","room":"r","data":"\q"}})"},
      {"control char in string",
       "{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\",\"data\":\"a\x01\"}}"},
      {"trailing garbage", R"({"type":"P","data":{"type":"t","room":"r"}} x)"},
      {"second document", R"({"type":"P","data":{"type":"t","room":"r"}}{})"},
      {"trailing comma", R"({"type":"P","data":{"type":"t","room":"r","data":[1,2,]}})"},
      {"missing comma in data.data", R"({"type":"P","data":{"type":"t","room":"r","data":[1 2]}})"},
      {"bad number in data.data", R"({"type":"P","data":{"type":"t","room":"r","data":[01]}})"},
      {"bad literal in data.data",
       R"({"type":"P","data":{"type":"t","room":"r","data":{"a":tru}}})"},
      {"bad literal in an unread field", R"({"q":nul,"type":"P","data":{"type":"t","room":"r"}})"},
      {"missing colon", R"({"type" "P","data":{"type":"t","room":"r"}})"},
      {"single quotes", R"({'type':'P'})"},
      {"unterminated", R"({"type":"P","data":{"type":"t","room":"r")"},
      {"bad and mistyped", R"({"type":5,"data":{"type":"t","room":"r"},)"},
      {"empty", ""},
      // bad_request
      {"not an object", R"([{"type":"P"}])"},
      {"a string", R"("PUBLISH")"},
      {"type not a string", R"({"type":5,"data":{"type":"t","room":"r"}})"},
      {"data not an object", R"({"type":"P","data":[1]})"},
      {"data null", R"({"type":"P","data":null})"},
      {"no event type", R"({"type":"P","data":{"room":"r"}})"},
      {"event type a number", R"({"type":"P","data":{"type":1,"room":"r"}})"},
      {"no room", R"({"type":"P","data":{"type":"t"}})"},
  };
  return c;
}

// Noted, not asserted: where the parsers may differ on text no client should send.
std::vector<check_case> noted_cases() {
  return {
      {"UTF-8 BOM before the frame",
       "\xef\xbb\xbf{\"type\":\"P\",\"data\":{\"type\":\"t\",\"room\":\"r\"}}"},
      {"number out of double range", R"({"type":"P","data":{"type":"t","room":"r","data":1e400}})"},
      {"integer past 2^64",
       R"({"type":"P","data":{"type":"t","room":"r","data":18446744073709551616}})"},
      {"NUL byte after the frame",
       std::string(R"({"type":"P","data":{"type":"t","room":"r"}})") + '\0'},
  };
}

struct variant {
  const char* name;
  variant_fn parse;
};

std::string describe(const parsed_frame& p) {
  if (p.result != status::ok) return status_name(p.result);
  return "ok op=" + p.op + " ref=" + p.ref.dump() + " type=" + p.event_type + " room=" + p.room +
         " env=" + p.envelope;
}

// All variants must give the same verdict and, for a good frame, the same fields and an
// envelope that parses to the same JSON value as today's.
bool agree(const std::vector<variant>& vs, const check_case& c, bool verbose) {
  const parsed_frame base = vs[0].parse(c.text);
  bool same = true;
  for (std::size_t i = 1; i < vs.size(); ++i) {
    const parsed_frame p = vs[i].parse(c.text);
    bool ok = p.result == base.result;
    if (ok && p.result == status::ok) {
      ok = p.op == base.op && p.ref == base.ref && p.event_type == base.event_type &&
           p.room == base.room;
      const json a = json::parse(base.envelope, nullptr, false);
      const json b = json::parse(p.envelope, nullptr, false);
      ok = ok && !a.is_discarded() && a == b;
    }
    if (!ok || verbose) {
      std::printf("  %-34s %-22s %s\n", c.name, vs[i].name, describe(p).c_str());
      if (!ok) std::printf("  %-34s %-22s %s\n", "", vs[0].name, describe(base).c_str());
    }
    same = same && ok;
  }
  return same;
}

// ---- timing --------------------------------------------------------------------------------

volatile std::size_t sink;

double ns_per_frame(const variant& v, const std::string& frame, double ms) {
  using clock = std::chrono::steady_clock;
  // Calibrate a batch of about 1 ms, then run whole batches for `ms`.
  std::size_t batch = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    if (clock::now() - t0 > std::chrono::microseconds(1000) || batch > (1u << 24)) break;
    batch *= 2;
  }
  std::size_t n = 0;
  const auto t0 = clock::now();
  const auto stop = t0 + std::chrono::duration<double, std::milli>(ms);
  auto t = t0;
  while (t < stop) {
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    n += batch;
    t = clock::now();
  }
  return std::chrono::duration<double, std::nano>(t - t0).count() / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 9;
  double ms = 40;
  bool check_only = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--ms" && i + 1 < argc)
      ms = std::max(1.0, std::atof(argv[++i]));
    else if (a == "--check-only")
      check_only = true;
    else if (a == "--verbose")
      verbose = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--ms MS_PER_SAMPLE] [--check-only] [--verbose]\n",
                   argv[0]);
      return 2;
    }
  }

  std::vector<variant> vs = {{"A nlohmann DOM (today)", dom_today},
                             {"B nlohmann DOM, moves", dom_moves},
                             {"C nlohmann SAX+splice", nlohmann_sax}};
#ifdef RTEV_HAVE_SIMDJSON
  vs.push_back({"D simdjson ondemand+splice", simdjson_ondemand()});
  vs.push_back({"E simdjson DOM+minify", simdjson_dom()});
  std::printf("simdjson %d.%d.%d, implementation: %s\n", simdjson::SIMDJSON_VERSION_MAJOR,
              simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
              simdjson::get_active_implementation()->name().c_str());
#else
  std::printf("built without simdjson: variants D and E are left out\n");
#endif

  // ---- correctness ----
  bool all_agree = true;
  std::size_t n_ok = 0, n_bad_json = 0, n_bad_request = 0;
  for (const auto& c : check_cases()) {
    all_agree = agree(vs, c, verbose) && all_agree;
    switch (vs[0].parse(c.text).result) {
      case status::ok:
        ++n_ok;
        break;
      case status::bad_json:
        ++n_bad_json;
        break;
      case status::bad_request:
        ++n_bad_request;
        break;
    }
  }
  std::printf("check: %zu frames (%zu ok, %zu bad_json, %zu bad_request): %s\n",
              check_cases().size(), n_ok, n_bad_json, n_bad_request,
              all_agree ? "all variants agree" : "VARIANTS DISAGREE");
  std::printf("noted (not asserted):\n");
  for (const auto& c : noted_cases()) {
    std::printf("  %s:", c.name);
    for (const auto& v : vs) std::printf(" %c=%s", v.name[0], status_name(v.parse(c.text).result));
    std::printf("\n");
  }
  if (!all_agree) return 1;
  if (check_only) return 0;

  // ---- timing: every run times each variant once per frame, in a rotating order ----
  struct frame_kind {
    const char* name;
    std::string text;
  };
  const std::vector<frame_kind> frames = {{"publish, data 50 B", publish_frame(50)},
                                          {"publish, data 200 B", publish_frame(200)},
                                          {"publish, data 2 KB", publish_frame(2048)},
                                          {"publish, nested data", nested_frame()}};
  std::printf(
      "\n%d runs of %.0f ms per variant and frame, interleaved; median ns/frame, "
      "frames/s, and the median of each run's ratio to A\n",
      runs, ms);
  for (const auto& f : frames) {
    std::vector<std::vector<double>> ns(vs.size());
    for (int r = 0; r < runs; ++r)
      for (std::size_t k = 0; k < vs.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(r)) % vs.size();
        ns[i].push_back(ns_per_frame(vs[i], f.text, ms));
      }
    std::printf("\n%s (frame %zu bytes)\n", f.name, f.text.size());
    std::printf("  %-28s %10s %12s %10s %16s\n", "variant", "ns/frame", "frames/s", "A / this",
                "spread (min-max)");
    for (std::size_t i = 0; i < vs.size(); ++i) {
      std::vector<double> ratio;
      for (int r = 0; r < runs; ++r) ratio.push_back(ns[0][r] / ns[i][r]);
      const double m = median(ns[i]);
      std::printf("  %-28s %10.0f %12.0f %9.2fx %7.0f-%-7.0f\n", vs[i].name, m, 1e9 / m,
                  median(ratio), *std::min_element(ns[i].begin(), ns[i].end()),
                  *std::max_element(ns[i].begin(), ns[i].end()));
    }
  }
  return 0;
}
