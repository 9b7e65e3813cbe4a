#include "wire/sse_parser.hpp"

#include <cstdint>
#include <utility>

namespace rtev::detail {
namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";
constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
// A server asking for a reconnection delay of more than a day is almost certainly wrong (or
// hostile); a day is still "do what the server says" for any real deployment.
constexpr std::uint64_t max_retry_ms = 24ull * 60 * 60 * 1000;

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    int need = 0;
    unsigned char lower = 0x80, upper = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lower = 0xA0;  // overlong
      if (b == 0xED) upper = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lower = 0x90;  // overlong
      if (b == 0xF4) upper = 0x8F;  // past U+10FFFF
    } else {
      out += replacement;
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    int got = 0;
    while (got < need && j < n) {
      auto c = static_cast<unsigned char>(s[j]);
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xBF;
      ++j;
      ++got;
    }
    if (got == need)
      out.append(s.substr(i, j - i));
    else
      out += replacement;  // the maximal invalid subpart; the byte that broke it is read again
    i = j;
  }
  return out;
}

sse_parser::sse_parser(std::size_t max_event_bytes) : max_(max_event_bytes) {}

void sse_parser::restart() {
  partial_.clear();
  data_.clear();
  type_.clear();
  id_buffer_ = last_id_;
  id_in_event_ = false;
  start_ = true;
  after_cr_ = false;
  error_.clear();
}

bool sse_parser::feed(std::string_view bytes) {
  if (!error_.empty()) return false;
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  if (n == 0) return true;

  if (start_) {
    // partial_ holds the bytes of a BOM seen so far; anything else ends the check and those
    // bytes (if any) are the start of the first line.
    while (i < n && start_) {
      if (bytes[i] == bom[partial_.size()]) {
        partial_ += bytes[i++];
        if (partial_.size() == bom.size()) {
          partial_.clear();
          start_ = false;
        }
      } else {
        start_ = false;
      }
    }
    if (start_) return true;
  }
  if (after_cr_) {
    after_cr_ = false;
    if (i < n && bytes[i] == '\n') ++i;
  }

  while (i < n) {
    std::size_t j = bytes.find_first_of("\r\n", i);
    if (j == std::string_view::npos) {
      partial_.append(bytes.substr(i));
      if (partial_.size() > max_) {
        error_ = "an event stream line longer than " + std::to_string(max_) + " bytes";
        return false;
      }
      break;
    }
    if (partial_.empty()) {
      line(bytes.substr(i, j - i));
    } else {
      partial_.append(bytes.substr(i, j - i));
      std::string l = std::move(partial_);
      partial_.clear();
      line(l);
    }
    if (!error_.empty()) return false;
    if (bytes[j] == '\r') {
      if (j + 1 < n) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        after_cr_ = true;  // the LF of a CRLF pair may be the next chunk's first byte
      }
    }
    i = j + 1;
  }
  return true;
}

void sse_parser::line(std::string_view l) {
  if (l.empty()) return dispatch();
  if (l.front() == ':') {
    if (on_comment) on_comment(sanitize_utf8(l.substr(1)));
    return;
  }
  std::string_view field = l, value;
  if (auto colon = l.find(':'); colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_ += '\n';
    if (data_.size() > max_)
      error_ = "an event stream event larger than " + std::to_string(max_) + " bytes";
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      id_buffer_ = sanitize_utf8(value);
      id_in_event_ = true;
    }
  } else if (field == "retry") {
    if (value.empty()) return;
    std::uint64_t ms = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return;  // not all ASCII digits: the field is ignored
      if (ms <= max_retry_ms) ms = ms * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (ms > max_retry_ms) ms = max_retry_ms;
    if (on_retry) on_retry(std::chrono::milliseconds(ms));
  }
  // Any other field is ignored.
}

void sse_parser::dispatch() {
  last_id_ = id_buffer_;
  bool had_id = std::exchange(id_in_event_, false);
  if (data_.empty()) {
    type_.clear();
    return;
  }
  data_.pop_back();  // the "\n" after the last data line
  sse_message m;
  if (!type_.empty()) m.type = sanitize_utf8(type_);
  m.data = sanitize_utf8(data_);
  m.last_event_id = last_id_;
  m.has_id = had_id;
  data_.clear();
  type_.clear();
  if (on_message) on_message(std::move(m));
}

}  // namespace rtev::detail
