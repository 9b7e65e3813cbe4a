#include "cli/src/jq_filter.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli/src/exit_codes.hpp"

using rtev::cli::jq_filter;
using rtev::cli::jq_runtime_error;
using rtev::cli::usage_error;
using lines = std::vector<std::string>;

// Run under ASan + LeakSanitizer (RTEV_SANITIZE=address,undefined), these also check that every
// jv reference libjq hands out is given back, on each path: outputs, no output, errors.

TEST_CASE("jq_filter_prints_each_output_as_compact_json", "[cli][jq]") {
  const std::string env =
      R"({"type":"message_sent","seq":3,"data":{"n":1,"text":"hi","tags":["a","b"]}})";
  SECTION("a projection yields one compact line") {
    jq_filter f("{type, n: .data.n}");
    CHECK(f.run(env) == lines{R"({"type":"message_sent","n":1})"});
  }
  SECTION("strings stay JSON strings unless raw") {
    jq_filter quoted(".data.text");
    CHECK(quoted.run(env) == lines{R"("hi")"});
    jq_filter raw(".data.text, .data.n", true);
    CHECK(raw.run(env) == lines{"hi", "1"});
  }
  SECTION("several outputs, in order; none for a select that does not hold") {
    jq_filter several(".data.tags[]");
    CHECK(several.run(env) == lines{R"("a")", R"("b")"});
    jq_filter none("select(.data.n > 5)");
    CHECK(none.run(env).empty());
  }
  SECTION("one filter runs on many inputs, each on its own") {
    jq_filter f("([inputs] | length), .n");
    for (int i = 0; i < 100; ++i)
      CHECK(f.run(R"({"n":)" + std::to_string(i) + "}") == lines{"0", std::to_string(i)});
  }
  SECTION("halt ends the run keeping the outputs so far") {
    jq_filter f("1, halt, 2");
    CHECK(f.run("{}") == lines{"1"});
  }
}

TEST_CASE("jq_filter_compile_errors_are_usage_errors_naming_the_filter", "[cli][jq]") {
  SECTION("a syntax error carries jq's message, without the padding after the program") {
    try {
      jq_filter f(".data |");
      FAIL("compiled");
    } catch (const usage_error& e) {
      const std::string what = e.what();
      CHECK(what.rfind("--jq '.data |': jq: error: syntax error", 0) == 0);
      CHECK(what.find(".data |\njq: 1 compile error") != std::string::npos);
    }
  }
  SECTION("an undefined variable and a missing module are compile errors too") {
    CHECK_THROWS_WITH(jq_filter("$nope"), Catch::Contains("$nope is not defined"));
    CHECK_THROWS_WITH(jq_filter(R"(import "no_such_module" as m; .)"),
                      Catch::Contains("module not found: no_such_module"));
  }
}

TEST_CASE("jq_filter_runtime_errors_are_thrown_and_the_filter_runs_on", "[cli][jq]") {
  jq_filter f(".n + 1");
  SECTION("a string plus a number is jq's error") {
    CHECK_THROWS_AS(f.run(R"({"n":"six"})"), jq_runtime_error);
    CHECK_THROWS_WITH(f.run(R"({"n":"six"})"),
                      Catch::Contains(R"(string ("six") and number (1) cannot be added)"));
  }
  SECTION("the next input after an error runs normally") {
    CHECK_THROWS(f.run(R"({"n":"six"})"));
    CHECK(f.run(R"({"n":41})") == lines{"42"});
  }
  SECTION("error() with a string, with an object, and halt_error") {
    CHECK_THROWS_WITH(jq_filter(R"(1, error("boom"))").run("{}"), "boom");
    CHECK_THROWS_WITH(jq_filter("error({a: 1})").run("{}"), R"((not a string): {"a":1})");
    CHECK_THROWS_WITH(jq_filter(R"("stop" | halt_error)").run("{}"), "stop");
  }
  SECTION("text that is not JSON is an error, not a crash") {
    CHECK_THROWS_AS(f.run("{"), jq_runtime_error);
  }
}
