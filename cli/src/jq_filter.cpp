#include "jq_filter.hpp"

#include <climits>
#include <iostream>

// jq 1.6's headers have no extern "C" of their own.
extern "C" {
#include <jq.h>
}

#include "exit_codes.hpp"

namespace rtev::cli {

namespace {

// Every jv_* function consumes (decrefs) the jv values it is given, except jv_copy and the
// accessors jv_get_kind and jv_string_value; one that is not handed on must be freed. An
// owned_jv frees its value unless release() hands it to a consuming function, so an exception
// between the two leaks nothing.
class owned_jv {
 public:
  explicit owned_jv(jv v) : v_(v) {}
  owned_jv(owned_jv&& other) noexcept : v_(other.v_), owned_(other.owned_) { other.owned_ = false; }
  ~owned_jv() {
    if (owned_) jv_free(v_);
  }
  owned_jv(const owned_jv&) = delete;
  owned_jv& operator=(const owned_jv&) = delete;
  owned_jv& operator=(owned_jv&&) = delete;

  jv_kind kind() const { return jv_get_kind(v_); }
  /// A new reference, for a function that consumes it; this one stays owned.
  jv copy() const { return jv_copy(v_); }
  /// Hands the reference on (to a consuming function).
  jv release() {
    owned_ = false;
    return v_;
  }
  /// The text of a string value, valid while this object owns it.
  std::string string_text() const {
    // jv_string_length_bytes consumes its argument: give it a copy. Strings may hold NULs.
    return {jv_string_value(v_), static_cast<std::size_t>(jv_string_length_bytes(jv_copy(v_)))};
  }

 private:
  jv v_;
  bool owned_ = true;
};

/// Compact JSON text of `v` (consumed).
std::string dump(owned_jv v) {
  const owned_jv text(jv_dump_string(v.release(), 0));
  return text.string_text();
}

/// The text of an error value, as the jq command shows it: a string as is, another value as
/// "(not a string): " and its JSON.
std::string error_text(owned_jv msg) {
  if (msg.kind() == JV_KIND_STRING) return msg.string_text();
  return "(not a string): " + dump(std::move(msg));
}

// jq pads the program's line in a syntax error with spaces; a message may end in a newline.
std::string without_trailing_spaces(const std::string& text) {
  std::string out;
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? nl : nl - start);
    line.erase(line.find_last_not_of(' ') + 1);  // npos + 1 == 0: all spaces
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  out.erase(out.find_last_not_of('\n') + 1);
  return out;
}

// libjq hands every compile message to this callback, which owns it.
void collect_compile_error(void* data, jv msg) {
  const owned_jv text(jq_format_error(msg));  // "jq: error: … at <top-level>, line 1:\n…"
  auto& messages = *static_cast<std::string*>(data);
  if (!messages.empty()) messages += '\n';
  if (text.kind() == JV_KIND_STRING) messages += without_trailing_spaces(text.string_text());
}

// After compiling nothing should be reported this way (runtime errors come back from
// jq_next), but should libjq report something, it is said rather than lost.
void print_error(void* /*data*/, jv msg) {
  const owned_jv text(jq_format_error(msg));
  if (text.kind() == JV_KIND_STRING) std::cerr << "rtev: --jq: " << text.string_text() << '\n';
}

// `debug` prints ["DEBUG:",value] on stderr, as the jq command does. libjq 1.6 calls this
// callback without checking it was set: without one, `debug` crashes.
void print_debug(void* /*data*/, jv value) {
  const owned_jv line(jv_dump_string(JV_ARRAY_2(jv_string("DEBUG:"), value), 0));
  std::cerr << line.string_text() << '\n';
}

// Each event is a run of its own: `input` and `inputs` find nothing more. libjq 1.6 calls
// this without checking it was set, too (`input` would crash).
jv no_more_input(jq_state* /*state*/, void* /*data*/) {
  return jv_invalid();
}

}  // namespace

void jq_filter::state_deleter::operator()(jq_state* s) const {
  jq_teardown(&s);
}

jq_filter::jq_filter(const std::string& program, bool raw_strings)
    : state_(jq_init()), raw_strings_(raw_strings) {
  if (!state_) throw std::bad_alloc();
  jq_state* jq = state_.get();
  std::string messages;
  jq_set_error_cb(jq, collect_compile_error, &messages);
  jq_set_debug_cb(jq, print_debug, nullptr);
  jq_set_input_cb(jq, no_more_input, nullptr);
  // Modules (`import "m" as m;`) come from ~/.jq, as for the jq command. libjq 1.6 needs the
  // search path set: without it an import aborts the process (an assertion in jv_array_concat).
  jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), JV_ARRAY_1(jv_string("~/.jq")));
  const bool compiled = jq_compile(jq, program.c_str()) != 0;
  jq_set_error_cb(jq, print_error, nullptr);  // `messages` is about to go
  if (!compiled)
    throw usage_error("--jq '" + program + "': " +
                      (messages.empty() ? std::string("jq: cannot compile the filter") : messages));
}

jq_filter::~jq_filter() = default;

std::vector<std::string> jq_filter::run(const std::string& json) {
  if (json.size() > INT_MAX) throw jq_runtime_error("the event is too large for jq");
  jq_state* jq = state_.get();
  owned_jv input(jv_parse_sized(json.data(), static_cast<int>(json.size())));
  if (input.kind() == JV_KIND_INVALID)
    throw jq_runtime_error("not JSON: " +
                           error_text(owned_jv(jv_invalid_get_msg(input.release()))));
  jq_start(jq, input.release(), 0);
  std::vector<std::string> outputs;
  for (;;) {
    owned_jv result(jq_next(jq));
    if (result.kind() != JV_KIND_INVALID) {
      if (raw_strings_ && result.kind() == JV_KIND_STRING)
        outputs.push_back(result.string_text());
      else
        outputs.push_back(dump(std::move(result)));
      continue;
    }
    // `halt_error` ends the run with a message; `halt` without one (outputs so far stand).
    if (jq_halted(jq)) {
      owned_jv message(jq_get_error_message(jq));
      if (message.kind() == JV_KIND_INVALID) break;
      throw jq_runtime_error(error_text(std::move(message)));
    }
    // An invalid with a message is an error (`error("…")`, `"a" + 1`); without one, the end.
    if (jv_invalid_has_msg(result.copy()))
      throw jq_runtime_error(error_text(owned_jv(jv_invalid_get_msg(result.release()))));
    break;
  }
  return outputs;
}

}  // namespace rtev::cli
