// server-lite/src/names.hpp: the rule for event types and room names, and the messages that
// say what is wrong with a name (docs/protocol.md §4.2 "Names").
#include "names.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "frame.hpp"
#include "rtev/error.hpp"

using rtev::server_lite::name_kind;
using rtev::server_lite::name_problem;

TEST_CASE("names_of_the_allowed_characters_up_to_128_are_valid", "[server][names]") {
  for (const char* ok :
       {"message_sent", "lead.updated", "user:42", "role:admin", "a@b-c.d_e:f", "presence", "X"})
    for (auto kind :
         {name_kind::room, name_kind::room_pattern, name_kind::type, name_kind::type_pattern}) {
      INFO(ok);
      CHECK(name_problem(ok, kind).empty());
    }
  CHECK(name_problem(std::string(128, 'a'), name_kind::type).empty());
  CHECK(name_problem("contact:*", name_kind::room_pattern).empty());
  CHECK(name_problem("*", name_kind::type_pattern).empty());
}

TEST_CASE("invalid_names_say_what_is_wrong_and_what_is_allowed", "[server][names]") {
  const std::string allowed = "; allowed: 1 to 128 of A-Z a-z 0-9 _ : . @ -";
  CHECK(name_problem("a\nb", name_kind::type) == "contains a control character (U+000A)" + allowed);
  CHECK(name_problem("a\rb", name_kind::room) == "contains a control character (U+000D)" + allowed);
  CHECK(name_problem(std::string("a\0b", 3), name_kind::type) ==
        "contains a control character (U+0000)" + allowed);
  CHECK(name_problem("a\x7f", name_kind::type) ==
        "contains a control character (U+007F)" + allowed);
  CHECK(name_problem("", name_kind::room) == "is empty" + allowed);
  CHECK(name_problem(std::string(129, 'a'), name_kind::room) == "is 129 characters long" + allowed);
  CHECK(name_problem("a b", name_kind::type) == "contains a space (U+0020)" + allowed);
  CHECK(name_problem("a\\b", name_kind::type) == "contains '\\' (U+005C)" + allowed);
  CHECK(name_problem("caf\xc3\xa9", name_kind::room) ==
        "contains a non-ASCII byte (0xC3)" + allowed);
  CHECK(name_problem("msg_*", name_kind::type).find("contains '*'") == 0);
  CHECK(name_problem("a b*", name_kind::room_pattern) ==
        "contains a space (U+0020)" + allowed + " (and * as a wildcard)");
}

TEST_CASE("require_names_names_the_failing_entry", "[server][names]") {
  try {
    rtev::server_lite::require_names("data.types", {"ok", "bad\n"}, name_kind::type_pattern);
    FAIL("no throw");
  } catch (const rtev::parse_error& e) {
    CHECK(e.path() == "data.types[1]");
    CHECK(std::string(e.what()).rfind("data.types[1]: contains a control character (U+000A)", 0) ==
          0);
  }
}

TEST_CASE("an_sse_event_line_never_carries_a_line_break", "[server][names][sse]") {
  // Types are validated on the way in; the frame holds whatever a store replays.
  rtev::server_lite::shared_event e;
  e.json = R"({"type":"x"})";
  e.type = "x\r\nid: 999999\n\nevent: forged";
  e.seq = 7;
  const std::string text(e.sse_frame(true)->payload());
  CHECK(text ==
        "id: 7\nevent: x\\x0d\\x0aid: 999999\\x0a\\x0aevent: forged\ndata: {\"type\":\"x\"}\n\n");
}
