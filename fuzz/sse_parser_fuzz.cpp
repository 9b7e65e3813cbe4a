// The SSE client's parser (sdk/src/wire/sse_parser.cpp), fed in random chunkings: the first
// bytes of the input choose the chunk sizes, the rest is the stream. Whatever the chunking,
// the events, comments and retry values must be exactly those of the stream fed at once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "wire/sse_parser.hpp"

using rtev::detail::sse_message;
using rtev::detail::sse_parser;

namespace {

struct transcript {
  std::vector<std::string> items;
  bool ok = true;
  std::string last_id;
};

template <typename Feed>
transcript run(Feed&& feed) {
  transcript t;
  sse_parser p(4096);  // small, so the size cap is reached too
  p.on_message = [&](sse_message&& m) {
    t.items.push_back("M" + m.type + '\0' + m.data + '\0' + m.last_event_id +
                      (m.has_id ? "1" : "0"));
  };
  p.on_comment = [&](std::string_view c) { t.items.push_back("C" + std::string(c)); };
  p.on_retry = [&](std::chrono::milliseconds ms) {
    t.items.push_back("R" + std::to_string(ms.count()));
  };
  t.ok = feed(p);
  t.last_id = p.last_event_id();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint8_t* sizes = data;  // 4 chunk sizes, used round-robin
  const std::string_view stream = rtev::fuzz::as_text(data + 4, size - 4);

  const transcript whole = run([&](sse_parser& p) { return p.feed(stream); });
  const transcript chunked = run([&](sse_parser& p) {
    std::size_t at = 0;
    for (std::size_t i = 0; at < stream.size(); ++i) {
      const std::size_t n = std::min<std::size_t>(1 + sizes[i % 4] % 16, stream.size() - at);
      if (!p.feed(stream.substr(at, n))) return false;
      at += n;
    }
    return true;
  });
  // A stream over the cap stops at a point that depends on the chunking; only compare the
  // whole transcript when both read everything.
  if (whole.ok && chunked.ok && (whole.items != chunked.items || whole.last_id != chunked.last_id))
    __builtin_trap();
  if (whole.ok != chunked.ok && whole.ok) __builtin_trap();
  for (const auto& item : whole.items)
    if (rtev::detail::sanitize_utf8(item) != item) __builtin_trap();  // text is valid UTF-8
  return 0;
}
