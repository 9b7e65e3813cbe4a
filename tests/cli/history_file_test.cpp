#include "cli/src/history_file.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using rtev::cli::history_file;
using lines = std::vector<std::string>;

namespace {

// A fresh directory under the system temp dir, removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rtev-history-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("history_file_keeps_typed_lines_across_sessions", "[cli][history]") {
  temp_dir dir;
  const auto path = dir.path / "state" / "rtev" / "connect_history";
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) { warnings.push_back(w); };

  SECTION("the first session creates the directory and the file, owner-only") {
    history_file h(path.string(), 1000, warn);
    CHECK(h.load().empty());
    CHECK(std::filesystem::is_directory(path.parent_path()));
    CHECK(h.add("/sub lobby") == "/sub lobby");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(warnings.empty());
  }
  SECTION("blank lines and a repeat of the previous line are not kept; trailing blanks go") {
    history_file h(path.string(), 1000, warn);
    h.load();
    CHECK(h.add("/ping") == "/ping");
    CHECK(h.add("/ping").empty());
    CHECK(h.add("/ping  ").empty());
    CHECK(h.add("   ").empty());
    CHECK(h.add("").empty());
    CHECK(h.add("/unsub lobby ") == "/unsub lobby");
    CHECK(h.add("/ping") == "/ping");
    CHECK(read_all(path) == "/ping\n/unsub lobby\n/ping\n");
  }
  SECTION("the next session loads them, and knows the last one") {
    {
      history_file h(path.string(), 1000, warn);
      h.load();
      h.add("/sub a");
      h.add("/sub b");
    }
    history_file h(path.string(), 1000, warn);
    CHECK(h.load() == lines{"/sub a", "/sub b"});
    CHECK_FALSE(h.worth_keeping("/sub b"));
    CHECK(h.worth_keeping("/sub a"));
  }
  SECTION("a longer file is cut back to the newest lines when loaded") {
    std::filesystem::create_directories(path.parent_path());
    {
      std::ofstream out(path);
      for (int i = 0; i < 15; ++i) out << "/history r" << i << '\n';
    }
    history_file h(path.string(), 10, warn);
    const lines got = h.load();
    REQUIRE(got.size() == 10);
    CHECK(got.front() == "/history r5");
    CHECK(got.back() == "/history r14");
    CHECK(read_all(path).rfind("/history r5\n", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  }
}

TEST_CASE("history_file_problems_are_one_warning_never_a_failure", "[cli][history]") {
  temp_dir dir;
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) { warnings.push_back(w); };

  SECTION("a directory that cannot be made: one warning, lines still kept in memory") {
    std::ofstream(dir.path / "file").put('x');
    history_file h((dir.path / "file" / "history").string(), 1000, warn);
    CHECK(h.load().empty());
    CHECK(h.add("/ping") == "/ping");
    CHECK(h.add("/sub x") == "/sub x");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("cannot create") != std::string::npos);
  }
  SECTION("a file that cannot be written: one warning however many lines") {
    history_file h(dir.path.string(), 1000, warn);  // a directory, not a file
    h.load();
    h.add("/ping");
    h.add("/sub x");
    h.add("/sub y");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("cannot write the history file") != std::string::npos);
  }
  SECTION("no path: nothing read or written, nothing said") {
    history_file h("", 1000, warn);
    CHECK(h.load().empty());
    CHECK(h.add("/ping") == "/ping");
    CHECK(warnings.empty());
  }
}

TEST_CASE("connect_history_path_follows_the_environment", "[cli][history]") {
  const auto restore = [](const char* name, const char* old) {
    if (old)
      ::setenv(name, old, 1);
    else
      ::unsetenv(name);
  };
  const char* old_file = std::getenv("RTEV_HISTORY_FILE");
  const char* old_state = std::getenv("XDG_STATE_HOME");
  const char* old_home = std::getenv("HOME");
  const std::string keep_file = old_file ? old_file : "", keep_state = old_state ? old_state : "",
                    keep_home = old_home ? old_home : "";

  ::unsetenv("RTEV_HISTORY_FILE");
  ::setenv("XDG_STATE_HOME", "/x/state", 1);
  ::setenv("HOME", "/home/u", 1);
  CHECK(rtev::cli::connect_history_path() == "/x/state/rtev/connect_history");
  ::setenv("XDG_STATE_HOME", "", 1);
  CHECK(rtev::cli::connect_history_path() == "/home/u/.local/state/rtev/connect_history");
  ::unsetenv("HOME");
  CHECK(rtev::cli::connect_history_path().empty());
  ::setenv("RTEV_HISTORY_FILE", "/tmp/h", 1);
  CHECK(rtev::cli::connect_history_path() == "/tmp/h");
  ::setenv("RTEV_HISTORY_FILE", "", 1);
  ::setenv("HOME", "/home/u", 1);
  CHECK(rtev::cli::connect_history_path().empty());

  restore("RTEV_HISTORY_FILE", old_file ? keep_file.c_str() : nullptr);
  restore("XDG_STATE_HOME", old_state ? keep_state.c_str() : nullptr);
  restore("HOME", old_home ? keep_home.c_str() : nullptr);
}
