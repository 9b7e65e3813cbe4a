#include "commands/bench_nats.hpp"

#include <charconv>

namespace rtev::cli {

namespace {

constexpr std::size_t max_line = 64 * 1024;    // INFO is the longest line (~1 KB)
constexpr std::size_t max_payload = 64 << 20;  // nats-server's max_payload is 1 MB by default

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

}  // namespace

bool nats_parser::feed(std::string_view data) {
  if (!error_.empty()) return false;
  buf_.append(data);
  for (;;) {
    const std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    if (in_payload_) {
      if (rest.size() < payload_ + 2) break;
      if (rest.substr(payload_, 2) != "\r\n") {
        error_ = "a MSG payload not followed by CRLF";
        return false;
      }
      in_payload_ = false;
      pos_ += payload_ + 2;
      if (on_msg) on_msg(rest.substr(0, payload_));
      continue;
    }
    const auto eol = rest.find("\r\n");
    if (eol == std::string_view::npos) {
      if (rest.size() > max_line) {
        error_ = "a protocol line over 64 KiB";
        return false;
      }
      break;
    }
    pos_ += eol + 2;
    if (!parse_line(rest.substr(0, eol))) return false;
  }
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return true;
}

bool nats_parser::parse_line(std::string_view line) {
  const auto op_of = [&](std::string_view name) { return starts_with(line, name); };
  if (op_of("MSG ") || op_of("HMSG ")) {
    // MSG <subject> <sid> [reply-to] <#bytes>; HMSG … <#header bytes> <#total bytes>: the
    // last number is the whole payload either way (rtev bench asks for no headers).
    const auto sp = line.rfind(' ');
    std::size_t n = 0;
    const auto* end = line.data() + line.size();
    if (std::from_chars(line.data() + sp + 1, end, n).ptr != end || n > max_payload) {
      error_ = "a MSG line without a size: " + std::string(line.substr(0, 120));
      return false;
    }
    payload_ = n;
    in_payload_ = true;
    return true;
  }
  nats_op op;
  std::string_view arg;
  if (op_of("PING")) {
    op = nats_op::ping;
  } else if (op_of("PONG")) {
    op = nats_op::pong;
  } else if (op_of("+OK")) {
    op = nats_op::ok;
  } else if (op_of("INFO ")) {
    op = nats_op::info;
    arg = line.substr(5);
  } else if (op_of("-ERR")) {
    op = nats_op::err;
    arg = line.size() > 5 ? line.substr(5) : std::string_view{};
  } else {
    error_ = "an unknown NATS operation: " + std::string(line.substr(0, 120));
    return false;
  }
  if (on_op) on_op(op, arg);
  return true;
}

void append_nats_publish(std::string& out, std::string_view subject, std::string_view payload) {
  out.append("PUB ").append(subject).append(" ");
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, payload.size());
  out.append(digits, r.ptr).append("\r\n").append(payload).append("\r\nPING\r\n");
}

}  // namespace rtev::cli
