// The first bytes of a connection, as the listener reads them before libwebsockets:
// check_request_head on the whole input, and on a prefix the first byte chooses then resumed
// over the whole (as the listener does when a head comes in pieces); the answers must agree,
// and a refusal is a whole HTTP response with a JSON body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "request_guard.hpp"

using namespace rtev::server_lite;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text = rtev::fuzz::as_text(data + 1, size - 1);
  const head_check whole = check_request_head(text);
  // A prefix never passes or refuses differently from what the whole input later shows,
  // except that a prefix may still be incomplete.
  const std::size_t cut = text.empty() ? 0 : data[0] % (text.size() + 1);
  head_progress progress;
  const head_check part = check_request_head(text.substr(0, cut), &progress);
  if (part.what == head_check::verdict::pass && whole.what != head_check::verdict::pass) abort();
  if (part.what == head_check::verdict::refuse &&
      (whole.what != head_check::verdict::refuse || part.refusal->body != whole.refusal->body))
    abort();
  // Resuming from where the prefix left off gives the same answer as reading it all at once.
  if (part.what == head_check::verdict::incomplete) {
    const head_check resumed = check_request_head(text, &progress);
    if (resumed.what != whole.what) abort();
    if (resumed.refusal && resumed.refusal->body != whole.refusal->body) abort();
  }
  if (whole.what == head_check::verdict::refuse) {
    if (!whole.refusal || whole.refusal->status < 400) abort();
    const auto body = nlohmann::json::parse(whole.refusal->body, nullptr, false);
    if (body.is_discarded() || !body["error"]["message"].is_string()) abort();
    const std::string wire = raw_http_response(*whole.refusal, {});
    if (wire.rfind("HTTP/1.1 ", 0) != 0 || wire.find("\r\n\r\n") == std::string::npos) abort();
  }
  return 0;
}
