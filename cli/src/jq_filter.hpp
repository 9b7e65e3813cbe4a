#pragma once
// `--jq FILTER` (tail, subscribe, replay --from-server): a jq program, run by libjq (the
// reference implementation of jq's language, Debian's libjq-dev), applied to each event's
// envelope. Compiled once; each run yields the filter's outputs as compact JSON text.
//
// Thread safety: not thread-safe (libjq's state is mutable while a program runs): one
// jq_filter per thread, or run it under a lock. The CLI runs it on the client's service thread.

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct jq_state;

namespace rtev::cli {

/// A jq runtime error for one input: its text is jq's ("string ("x") and number (1) cannot be
/// added").
struct jq_runtime_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class jq_filter {
 public:
  /// Compiles `program`. Throws usage_error "--jq '<program>': jq: error: …" with every
  /// message jq gave (the same lines the jq command prints).
  explicit jq_filter(const std::string& program, bool raw_strings = false);
  ~jq_filter();
  jq_filter(const jq_filter&) = delete;
  jq_filter& operator=(const jq_filter&) = delete;

  /// Runs the program on `json` (one JSON value): every output as compact JSON text (or, with
  /// `raw_strings`, a string output as its text). No output: an empty vector. Throws
  /// jq_runtime_error when the program raises an error (outputs before it are dropped).
  std::vector<std::string> run(const std::string& json);

 private:
  struct state_deleter {
    void operator()(jq_state* s) const;
  };
  std::unique_ptr<jq_state, state_deleter> state_;
  bool raw_strings_;
};

}  // namespace rtev::cli
