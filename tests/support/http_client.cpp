#include "tests/support/http_client.hpp"

#include <cctype>
#include <stdexcept>

namespace rtev::test {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::string build_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const header_list& headers, const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    req += name + ": " + value + "\r\n";
    has_length = has_length || lower(name) == "content-length";
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT"))
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return req + "\r\n" + body;
}

// Reads the status line and headers; leaves the rest in the stream's buffer.
void read_head(tcp_stream& s, steady::time_point deadline, int& status, header_map& headers) {
  std::string& buf = s.buffer();
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    const read_status r = s.fill(deadline);
    if (r == read_status::timeout) throw std::runtime_error("http: timed out waiting for headers");
    if (r == read_status::eof)
      throw std::runtime_error("http: connection closed before the headers (got '" + buf + "')");
  }
  const std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  const auto sp = status_line.find(' ');
  if (status_line.rfind("HTTP/1.", 0) != 0 || sp == std::string::npos)
    throw std::runtime_error("http: bad status line '" + status_line + "'");
  status = std::atoi(status_line.c_str() + sp + 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos)
      headers.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
}

// Decodes complete chunks from `in` into `out`; returns true once the last chunk was seen.
bool dechunk(std::string& in, std::string& out) {
  for (;;) {
    const auto eol = in.find("\r\n");
    if (eol == std::string::npos) return false;
    const std::size_t size = std::stoul(in.substr(0, eol), nullptr, 16);
    if (size == 0) {
      in.clear();
      return true;
    }
    if (in.size() < eol + 2 + size + 2) return false;
    out.append(in, eol + 2, size);
    in.erase(0, eol + 2 + size + 2);
  }
}

}  // namespace

nlohmann::json http_response::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    throw std::runtime_error("HTTP " + std::to_string(status) + " body is not JSON: '" +
                             body.substr(0, 300) + "'");
  return j;
}

http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const header_list& headers, const std::string& body, millis timeout) {
  const auto deadline = steady::now() + timeout;
  tcp_stream s("127.0.0.1", port, timeout);
  // A server may answer (413) before reading the whole body and close: the response counts.
  s.write_all(build_request(port, method, target, headers, body));
  return read_response(s, deadline, method == "HEAD");
}

http_response http_raw(std::uint16_t port, std::string_view bytes, millis timeout) {
  const auto deadline = steady::now() + timeout;
  tcp_stream s("127.0.0.1", port, timeout);
  s.write_all(bytes);
  return read_response(s, deadline, bytes.rfind("HEAD ", 0) == 0);
}

http_response http_raw_pieces(std::uint16_t port, const std::vector<std::string>& pieces,
                              millis timeout) {
  const auto deadline = steady::now() + timeout;
  tcp_stream s("127.0.0.1", port, timeout);
  for (const std::string& piece : pieces) s.write_all(piece);
  return read_response(s, deadline);
}

http_response read_response(tcp_stream& s, steady::time_point deadline, bool head) {
  http_response r;
  read_head(s, deadline, r.status, r.headers);
  std::string& buf = s.buffer();
  const auto length = r.header("content-length");
  const auto encoding = r.header("transfer-encoding");
  if (head || r.status == 204 || r.status == 304) return r;
  if (encoding && lower(*encoding).find("chunked") != std::string::npos) {
    while (!dechunk(buf, r.body))
      if (s.fill(deadline) != read_status::data)
        throw std::runtime_error("http: chunked body ended early");
  } else if (length) {
    const std::size_t want = std::stoul(*length);
    while (buf.size() < want)
      if (s.fill(deadline) != read_status::data)
        throw std::runtime_error("http: body shorter than Content-Length");
    r.body = buf.substr(0, want);
  } else {
    read_status st;
    while ((st = s.fill(deadline)) == read_status::data) {
    }
    if (st == read_status::timeout) throw std::runtime_error("http: timed out reading the body");
    r.body = buf;
  }
  return r;
}

http_response http_post_json(std::uint16_t port, const std::string& target, const std::string& body,
                             header_list headers) {
  headers.emplace_back("Content-Type", "application/json");
  return http_request(port, "POST", target, headers, body);
}

sse_stream::sse_stream(std::uint16_t port, const std::string& target, const header_list& headers,
                       millis timeout)
    : stream_("127.0.0.1", port, timeout) {
  const auto deadline = steady::now() + timeout;
  header_list h = headers;
  h.emplace_back("Accept", "text/event-stream");
  stream_.write_all(build_request(port, "GET", target, h, {}));
  read_head(stream_, deadline, status_, headers_);
  const auto encoding = find_header(headers_, "transfer-encoding");
  chunked_ = encoding && lower(*encoding).find("chunked") != std::string::npos;
  if (status_ != 200) {
    const auto length = find_header(headers_, "content-length");
    std::string& buf = stream_.buffer();
    if (chunked_) {
      while (!dechunk(buf, body_) && stream_.fill(deadline) == read_status::data) {
      }
    } else {
      const std::size_t want = length ? std::stoul(*length) : std::string::npos;
      while (buf.size() < want && stream_.fill(deadline) == read_status::data) {
      }
      body_ = buf.substr(0, want);
    }
  }
}

bool sse_stream::decode_chunks() {
  std::string& buf = stream_.buffer();
  if (!chunked_) {
    text_ += buf;
    buf.clear();
    return false;
  }
  return dechunk(buf, text_);
}

sse_item sse_stream::next(millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    decode_chunks();
    // Parse complete lines (LF or CRLF terminated).
    std::size_t eol;
    while ((eol = text_.find('\n')) != std::string::npos) {
      std::string line = text_.substr(0, eol);
      text_.erase(0, eol + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (!pending_any_) continue;
        sse_item done = std::move(pending_);
        done.type = sse_item::kind::event;
        pending_ = sse_item{};
        pending_any_ = false;
        data_lines_ = 0;
        return done;
      }
      if (line[0] == ':') {
        sse_item c;
        c.type = sse_item::kind::comment;
        c.comment = line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1);
        return c;
      }
      const auto colon = line.find(':');
      const std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "data") {
        if (data_lines_++ > 0) pending_.data += '\n';
        pending_.data += value;
      } else if (field == "id") {
        pending_.id = value;
      } else if (field == "event") {
        pending_.event = value;
      }
      pending_any_ = true;
    }
    const read_status r = stream_.fill(deadline);
    if (r == read_status::timeout) return sse_item{};
    if (r == read_status::eof) {
      decode_chunks();
      if (text_.find('\n') != std::string::npos) continue;
      sse_item e;
      e.type = sse_item::kind::eof;
      return e;
    }
  }
}

sse_item sse_stream::next_event(millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    sse_item it = next(std::chrono::duration_cast<millis>(deadline - steady::now()));
    if (it.type != sse_item::kind::comment) return it;
  }
}

}  // namespace rtev::test
