// The event-stream parser (sdk/src/wire/sse_parser.hpp), against the WHATWG rules.
#include "sdk/src/wire/sse_parser.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using rtev::detail::sanitize_utf8;
using rtev::detail::sse_message;
using rtev::detail::sse_parser;

namespace {

// Everything a parser reported, as one readable log: "event <type> [<data>] id=<id>",
// "comment <text>", "retry <ms>".
struct recorder {
  std::vector<std::string> log;
  std::vector<sse_message> events;
  void attach(sse_parser& p) {
    p.on_message = [this](sse_message&& m) {
      log.push_back("event " + m.type + " [" + m.data + "] id=" + m.last_event_id +
                    (m.has_id ? "" : " (inherited)"));
      events.push_back(std::move(m));
    };
    p.on_comment = [this](std::string_view c) { log.push_back("comment " + std::string(c)); };
    p.on_retry = [this](std::chrono::milliseconds ms) {
      log.push_back("retry " + std::to_string(ms.count()));
    };
  }
};

// Parse `stream` fed in chunks of `chunk` bytes.
std::vector<std::string> parse(std::string_view stream, std::size_t chunk) {
  sse_parser p;
  recorder r;
  r.attach(p);
  for (std::size_t i = 0; i < stream.size(); i += chunk) REQUIRE(p.feed(stream.substr(i, chunk)));
  return r.log;
}

// Parse `stream` whole, then check every chunking (one byte at a time, and every split into two
// pieces) gives the same result.
std::vector<std::string> parse_any_chunking(std::string_view stream) {
  auto whole = parse(stream, stream.size() + 1);
  CHECK(parse(stream, 1) == whole);
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    sse_parser p;
    recorder r;
    r.attach(p);
    REQUIRE(p.feed(stream.substr(0, cut)));
    REQUIRE(p.feed(stream.substr(cut)));
    INFO("split at byte " << cut);
    CHECK(r.log == whole);
  }
  return whole;
}

using log_t = std::vector<std::string>;

}  // namespace

TEST_CASE("sse_parser_splits_lines_on_lf_crlf_and_cr", "[sdk][sse]") {
  SECTION("LF") {
    CHECK(parse_any_chunking("data: a\n\ndata: b\n\n") ==
          log_t{"event message [a] id= (inherited)", "event message [b] id= (inherited)"});
  }
  SECTION("CRLF") {
    CHECK(parse_any_chunking("data: a\r\n\r\ndata: b\r\n\r\n") ==
          log_t{"event message [a] id= (inherited)", "event message [b] id= (inherited)"});
  }
  SECTION("CR alone") {
    CHECK(parse_any_chunking("data: a\r\rdata: b\r\r") ==
          log_t{"event message [a] id= (inherited)", "event message [b] id= (inherited)"});
  }
  SECTION("mixed endings in one stream") {
    CHECK(parse_any_chunking("data: a\r\ndata: b\rdata: c\n\r\n") ==
          log_t{"event message [a\nb\nc] id= (inherited)"});
  }
  SECTION("a CR at the end of one chunk and LF at the start of the next are one line end") {
    sse_parser p;
    recorder r;
    r.attach(p);
    REQUIRE(p.feed("data: a\r"));
    REQUIRE(p.feed("\ndata: b\r"));
    REQUIRE(p.feed("\n\r"));
    REQUIRE(p.feed("\n"));
    CHECK(r.log == log_t{"event message [a\nb] id= (inherited)"});
  }
  SECTION("CR then CR across chunks is two line ends (an empty line dispatches)") {
    sse_parser p;
    recorder r;
    r.attach(p);
    REQUIRE(p.feed("data: a\r"));
    REQUIRE(p.feed("\r"));
    CHECK(r.log == log_t{"event message [a] id= (inherited)"});
  }
}

TEST_CASE("sse_parser_joins_multi_line_data_with_newlines", "[sdk][sse]") {
  CHECK(parse_any_chunking("data: {\"a\":\ndata:  1}\ndata\ndata:\n\n") ==
        log_t{"event message [{\"a\":\n 1}\n\n] id= (inherited)"});
  SECTION("a single data: line with no value dispatches an empty event") {
    CHECK(parse_any_chunking("data:\n\n") == log_t{"event message [] id= (inherited)"});
    CHECK(parse_any_chunking("data\n\n") == log_t{"event message [] id= (inherited)"});
  }
}

TEST_CASE("sse_parser_strips_only_one_leading_space", "[sdk][sse]") {
  CHECK(parse_any_chunking("data:x\n\ndata: x\n\ndata:  x\n\n") ==
        log_t{"event message [x] id= (inherited)", "event message [x] id= (inherited)",
              "event message [ x] id= (inherited)"});
  SECTION("a colon in the value is kept") {
    CHECK(parse_any_chunking("data: a: b:c\n\n") ==
          log_t{"event message [a: b:c] id= (inherited)"});
  }
  SECTION("a tab is not stripped") {
    CHECK(parse_any_chunking("data:\tx\n\n") == log_t{"event message [\tx] id= (inherited)"});
  }
}

TEST_CASE("sse_parser_names_events_and_resets_the_name_after_each", "[sdk][sse]") {
  CHECK(parse_any_chunking("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n") ==
        log_t{"event add [1] id= (inherited)", "event message [2] id= (inherited)",
              "event message [3] id= (inherited)"});
  SECTION("an event name without data dispatches nothing and does not carry over") {
    CHECK(parse_any_chunking("event: lost\n\ndata: x\n\n") ==
          log_t{"event message [x] id= (inherited)"});
  }
}

TEST_CASE("sse_parser_keeps_the_last_event_id", "[sdk][sse]") {
  sse_parser p;
  recorder r;
  r.attach(p);
  REQUIRE(p.feed("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"));
  CHECK(r.log == log_t{"event message [a] id=1", "event message [b] id=1 (inherited)",
                       "event message [c] id="});
  CHECK(p.last_event_id().empty());

  SECTION("an id without data still updates the last event id") {
    REQUIRE(p.feed("id: 7\n\n"));
    CHECK(p.last_event_id() == "7");
    CHECK(r.events.size() == 3);
  }
  SECTION("an id containing NUL is ignored") {
    REQUIRE(p.feed("id: 5\n\n"));
    REQUIRE(p.feed(std::string_view("id: 6\0x\ndata: d\n\n", 17)));
    CHECK(r.events.back().last_event_id == "5");
    CHECK(p.last_event_id() == "5");
  }
  SECTION("the id survives a restart of the stream, a partial event does not") {
    REQUIRE(p.feed("id: 9\ndata: e\n\nid: 10\ndata: half"));
    p.restart();
    CHECK(p.last_event_id() == "9");
    REQUIRE(p.feed("data: f\n\n"));
    CHECK(r.log.back() == "event message [f] id=9 (inherited)");
  }
  SECTION("a seeded id is the starting point") {
    sse_parser q;
    q.set_last_event_id("41");
    recorder rq;
    rq.attach(q);
    REQUIRE(q.feed("data: x\n\n"));
    CHECK(rq.events.at(0).last_event_id == "41");
  }
}

TEST_CASE("sse_parser_reads_retry_only_when_all_digits", "[sdk][sse]") {
  CHECK(parse_any_chunking("retry: 1500\nretry: 15x\nretry: -1\nretry:\nretry: 1.5\nretry:0\n") ==
        log_t{"retry 1500", "retry 0"});
  SECTION("a huge value is capped at a day") {
    CHECK(parse("retry: 99999999999999999999999999\n", 100) == log_t{"retry 86400000"});
  }
}

TEST_CASE("sse_parser_reports_comments_and_ignores_unknown_fields", "[sdk][sse]") {
  CHECK(parse_any_chunking(": ping\n:\nfoo: bar\nDATA: no\ndata: yes\n\n") ==
        log_t{"comment  ping", "comment ", "event message [yes] id= (inherited)"});
}

TEST_CASE("sse_parser_skips_one_byte_order_mark_at_the_start", "[sdk][sse]") {
  CHECK(parse_any_chunking("\xEF\xBB\xBF"
                           "data: a\n\n") == log_t{"event message [a] id= (inherited)"});
  SECTION("a second BOM is part of the field name (an unknown field)") {
    CHECK(parse_any_chunking("\xEF\xBB\xBF\xEF\xBB\xBF"
                             "data: a\n\ndata: b\n\n") ==
          log_t{"event message [b] id= (inherited)"});
  }
  SECTION("a BOM prefix that is not a BOM is content") {
    CHECK(parse_any_chunking("\xEF"
                             "data: a\n\ndata: b\n\n") ==
          log_t{"event message [b] id= (inherited)"});
  }
}

TEST_CASE("sse_parser_discards_an_unterminated_event", "[sdk][sse]") {
  CHECK(parse_any_chunking("data: a\n\ndata: b\n") == log_t{"event message [a] id= (inherited)"});
  CHECK(parse_any_chunking("data: a\n\ndata: b") == log_t{"event message [a] id= (inherited)"});
}

TEST_CASE("sse_parser_replaces_invalid_utf8", "[sdk][sse]") {
  CHECK(parse_any_chunking("data: caf\xC3\xA9 \xFF!\n\n") ==
        log_t{"event message [caf\xC3\xA9 \xEF\xBF\xBD!] id= (inherited)"});
  SECTION("the decoder's maximal-subpart rule") {
    CHECK(sanitize_utf8("\xE2\x82") == "\xEF\xBF\xBD");  // truncated: one U+FFFD
    CHECK(sanitize_utf8("\xE2\x82x") == "\xEF\xBF\xBDx");
    CHECK(sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
    CHECK(sanitize_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    CHECK(sanitize_utf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");  // 😀 is valid
    CHECK(sanitize_utf8("\xF4\x90\x80\x80").size() == 12);           // past U+10FFFF
  }
}

TEST_CASE("sse_parser_refuses_an_event_over_the_size_cap", "[sdk][sse]") {
  sse_parser p(16);
  recorder r;
  r.attach(p);
  CHECK(p.feed("data: 0123456789\n\n"));
  CHECK_FALSE(p.feed("data: 0123456789\ndata: 0123456789\n\n"));
  CHECK_THAT(p.error(), Catch::Matchers::Contains("larger than 16 bytes"));
  CHECK_FALSE(p.feed("data: x\n\n"));
  CHECK(r.events.size() == 1);
  SECTION("a line without an end counts too") {
    sse_parser q(16);
    CHECK_FALSE(q.feed("data: 0123456789012345678901234567890"));
    CHECK_THAT(q.error(), Catch::Matchers::Contains("line longer than 16 bytes"));
  }
}
