#pragma once
// Blocking HTTP/1.1 test clients over raw POSIX sockets: one request per connection
// (`Connection: close`), and a Server-Sent Events reader.
//
// Thread safety: the free functions are safe from any thread; an sse_stream is used by one
// thread at a time.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/tcp_stream.hpp"
#include "tests/support/ws_client.hpp"

namespace rtev::test {

struct http_response {
  int status = 0;
  header_map headers;  ///< lower-case names
  std::string body;

  std::optional<std::string> header(const std::string& name) const {
    return find_header(headers, name);
  }
  /// The body as JSON; throws std::runtime_error quoting the body when it is not JSON.
  nlohmann::json json() const;
};

/// Sends one request to 127.0.0.1:port and reads the whole response (Content-Length, chunked,
/// or until the server closes). Throws std::runtime_error on time-out or a malformed response.
http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const header_list& headers = {}, const std::string& body = {},
                           millis timeout = default_timeout);

/// Sends `bytes` as they are (a request, malformed or not) and reads one response. Throws
/// std::runtime_error when the server closes or times out without answering.
http_response http_raw(std::uint16_t port, std::string_view bytes,
                       millis timeout = default_timeout);

/// Like http_raw, with each piece written on its own (the server may still read them together).
http_response http_raw_pieces(std::uint16_t port, const std::vector<std::string>& pieces,
                              millis timeout = default_timeout);

/// Reads one response from `s` (after a request was written); `head`: no body follows.
http_response read_response(tcp_stream& s, steady::time_point deadline, bool head = false);

inline http_response http_get(std::uint16_t port, const std::string& target,
                              const header_list& headers = {}) {
  return http_request(port, "GET", target, headers);
}

/// POST with `Content-Type: application/json`.
http_response http_post_json(std::uint16_t port, const std::string& target, const std::string& body,
                             header_list headers = {});

/// One item of an event stream: a dispatched event, a comment line, or why there was none.
struct sse_item {
  enum class kind { event, comment, timeout, eof };
  kind type = kind::timeout;
  std::optional<std::string> id;     ///< the event's `id:` field, if it had one
  std::optional<std::string> event;  ///< the event's `event:` field, if it had one
  std::string data;                  ///< `data:` lines joined with '\n'
  std::string comment;               ///< text after ':' (leading space removed)
};

class sse_stream {
 public:
  /// GET `target` with `Accept: text/event-stream`. When the server answers with anything but
  /// 200 the body is read whole (status(), body()).
  sse_stream(std::uint16_t port, const std::string& target, const header_list& headers = {},
             millis timeout = default_timeout);

  int status() const { return status_; }
  const header_map& headers() const { return headers_; }
  const std::string& body() const { return body_; }

  /// The next event or comment, waiting at most `timeout`.
  sse_item next(millis timeout = default_timeout);
  /// The next event, skipping comments.
  sse_item next_event(millis timeout = default_timeout);
  void close() { stream_.close(); }

 private:
  bool decode_chunks();  // moves de-chunked bytes from the socket buffer into text_

  tcp_stream stream_;
  int status_ = 0;
  header_map headers_;
  std::string body_;
  bool chunked_ = false;
  std::string text_;  // event-stream text not yet parsed
  sse_item pending_;  // the event being assembled
  bool pending_any_ = false;
  std::size_t data_lines_ = 0;  // `data:` lines in pending_
};

}  // namespace rtev::test
