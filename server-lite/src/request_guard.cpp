#include "request_guard.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <libwebsockets.h>

#include "http_request_head.hpp"
#include "rtev/json.hpp"

namespace rtev::server_lite {

namespace {

// The methods lws 4.1 parses (http_request_head's method tokens); any other gets lws's 403.
constexpr std::string_view known_methods[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                              "PATCH", "DELETE", "CONNECT", "HEAD"};

head_check refuse(int status, const std::string& code, const std::string& message) {
  return {head_check::verdict::refuse, json_error(status, code, message)};
}

head_check bad_request(const std::string& message) {
  return refuse(400, "bad_request", message);
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// The words lws 4.1's header parser matches byte by byte (its lextable), as lws itself names
// them: header names ("accept:"), request-line words ("get ", "http/1.1 ", "patch") and the
// HTTP/2 pseudo headers (":path"). Read once from lws_token_to_string().
struct lws_words {
  std::vector<std::string> header_names;  ///< "accept": every known header, without its ':'
  std::vector<std::string> others;        ///< "get ", "patch", "uri-args", ":path", ...
  std::vector<std::string> bare_methods;  ///< methods lws matches without a space: "patch", ...
};

const lws_words& lws_known_words() {
  static const lws_words words = [] {
    lws_words w;
    for (int i = 0; i < WSI_TOKEN_COUNT; ++i) {
      const auto* raw = lws_token_to_string(static_cast<lws_token_indexes>(i));
      if (!raw || !*raw) continue;
      std::string word(reinterpret_cast<const char*>(raw));
      if (std::any_of(word.begin(), word.end(),
                      [](char c) { return is_control(static_cast<unsigned char>(c)); }))
        continue;
      if (word.size() > 1 && word.back() == ':' && word.front() != ':') {
        word.pop_back();
        w.header_names.push_back(word);
        continue;
      }
      const bool method = i == WSI_TOKEN_GET_URI || i == WSI_TOKEN_POST_URI ||
                          i == WSI_TOKEN_OPTIONS_URI || i == WSI_TOKEN_PATCH_URI ||
                          i == WSI_TOKEN_PUT_URI || i == WSI_TOKEN_DELETE_URI ||
                          i == WSI_TOKEN_CONNECT || i == WSI_TOKEN_HEAD_URI;
      if (method && word.back() != ' ') w.bare_methods.push_back(word);
      w.others.push_back(word);
    }
    return w;
  }();
  return words;
}

bool starts_with(std::string_view text, std::string_view start) {
  return text.size() >= start.size() && text.compare(0, start.size(), start) == 0;
}

// Why lws 4.1 cannot read a header of this (lower-case) name, if it cannot. Its parser matches
// a name against its words byte by byte: a name that ends (at ':') part way through one of them,
// other than a whole header name, leaves it waiting for the rest until its 10 s header timeout
// (`A:`, `Cook:`, `Get:`); a name that begins with a method it matches without a space
// (`Put:`, `Deleted:`) closes the connection. Measured against lws 4.1.6, docs/lws-notes.md.
std::optional<std::string> lws_unreadable_name(const std::string& name) {
  const lws_words& words = lws_known_words();
  if (std::find(words.header_names.begin(), words.header_names.end(), name) !=
      words.header_names.end())
    return std::nullopt;
  const auto longer = [&](const std::string& word) {
    return word.size() > name.size() && starts_with(word, name);
  };
  const std::string prefix = "libwebsockets 4.1 ";
  auto it = std::find_if(words.header_names.begin(), words.header_names.end(), longer);
  if (it != words.header_names.end())
    return prefix + "stalls on a header name that is the beginning of a known one, here '" + *it +
           "'";
  it = std::find_if(words.others.begin(), words.others.end(), longer);
  if (it != words.others.end()) {
    std::string word = *it;
    if (word.back() == ' ') word.pop_back();
    return prefix + "stalls on a header name that is the beginning of a word it knows from " +
           "request lines, here '" + word + "'";
  }
  for (const std::string& method : words.bare_methods) {
    if (!starts_with(name, method)) continue;
    std::string why = prefix;
    why += "closes the connection on a header name that begins with the method '";
    why += method;
    why += "'";
    return why;
  }
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The request target: origin form only ("/path?query"), escapes and bytes checked per piece
// so the error names the query parameter at fault.
std::optional<head_check> target_refusal(std::string_view target) {
  if (target.empty() || target.front() != '/')
    return bad_request("the request target must be a path starting with '/', got '" +
                       rtev::printable(target.substr(0, 80)) + "'");
  const std::size_t q = target.find('?');
  std::string why;
  const std::string_view raw_path = target.substr(0, q);
  if (!url_decode(raw_path, &why)) return bad_request(path_subject(raw_path) + ": " + why);
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view frag = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = frag.find('=');
    const auto name = url_decode(frag.substr(0, eq), &why);
    if (!name) return bad_request("a query parameter name: " + why);
    if (eq != std::string_view::npos && !url_decode(frag.substr(eq + 1), &why))
      return bad_request("query parameter '" + rtev::printable(*name) + "': " + why);
  }
  return std::nullopt;
}

std::optional<head_check> request_line_refusal(std::string_view line) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return bad_request("malformed request line '" + rtev::printable(line.substr(0, 80)) +
                       "' (expected METHOD /path HTTP/1.1)");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view version = line.substr(sp2 + 1);
  if (std::find(std::begin(known_methods), std::end(known_methods), method) ==
      std::end(known_methods))
    return refuse(501, "not_implemented",
                  "method '" + rtev::printable(method.substr(0, 40)) +
                      "' is not supported (GET, POST, OPTIONS and HEAD are served)");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return refuse(505, "http_version_not_supported",
                  "'" + rtev::printable(version.substr(0, 40)) +
                      "' is not supported: this server speaks HTTP/1.1");
  return target_refusal(line.substr(sp1 + 1, sp2 - sp1 - 1));
}

std::optional<head_check> header_line_refusal(std::string_view line, std::size_t number) {
  const std::string shown = rtev::printable(line.substr(0, 80));
  if (line.front() == ' ' || line.front() == '\t')
    return bad_request("header line " + std::to_string(number) +
                       " starts with white space (folded header lines are not supported): '" +
                       shown + "'");
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos)
    return bad_request("header line " + std::to_string(number) + " has no ':': '" + shown + "'");
  const std::string_view name = line.substr(0, colon);
  // Named in lower case, as lws names the headers it knows ("cookie"), whatever the case sent.
  std::string lower_name(name.substr(0, 80));
  std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f && !std::strchr("\"(),/:;<=>?@[\\]{}", c);
  });
  if (!token)
    return bad_request("header line " + std::to_string(number) + " has no valid name: '" + shown +
                       "'");
  if (auto why = lws_unreadable_name(lower_name))
    return bad_request("header '" + rtev::printable(lower_name) +
                       "' cannot be read by this server's HTTP parser (" + *why +
                       "); rename or drop it");
  // lws itself limits only the headers it knows by name; this covers every header the same way
  // (head_refusal answers the same for a known header cut by lws's token limit).
  if (line.size() - colon - 1 > max_header_bytes)
    return refuse(431, "header_too_large",
                  "header '" + rtev::printable(lower_name) + "' is longer than " +
                      std::to_string(max_header_bytes) + " bytes");
  const std::string_view value = line.substr(colon + 1);
  if (std::any_of(value.begin(), value.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return is_control(c) && c != '\t';
      }))
    return bad_request("header '" + rtev::printable(lower_name) + "' contains a control character");
  return std::nullopt;
}

// A head that reaches max_request_head_bytes without its end: 414 when the request line alone
// does, else 431.
head_check too_long(bool in_request_line) {
  if (in_request_line)
    return refuse(
        414, "uri_too_long",
        "the request line is longer than " + std::to_string(max_request_head_bytes) + " bytes");
  return refuse(
      431, "header_too_large",
      "the request head is longer than " + std::to_string(max_request_head_bytes) + " bytes");
}

// How many `&`-separated parameters the request line's query has.
std::size_t query_fields(std::string_view request_line) {
  const std::size_t q = request_line.find('?');
  if (q == std::string_view::npos) return 0;
  std::string_view query = request_line.substr(q + 1);
  query = query.substr(0, query.find_first_of(" #"));
  if (query.empty()) return 0;
  return 1 + static_cast<std::size_t>(std::count(query.begin(), query.end(), '&'));
}

}  // namespace

head_check check_request_head(std::string_view bytes, head_progress* progress) {
  head_progress local;
  head_progress& at = progress ? *progress : local;
  std::size_t pos = at.checked;
  if (at.lines == 0) {
    // Empty lines before the request line are skipped (RFC 9112 §2.2).
    while (pos < bytes.size() && (bytes[pos] == '\r' || bytes[pos] == '\n')) ++pos;
    if (pos < bytes.size() && bytes[pos] == 0x16)
      return bad_request(
          "this is a TLS handshake, but this port speaks plain HTTP and WebSocket: use http:// "
          "or ws://");
  }
  for (;; ++at.lines) {
    const std::size_t number = at.lines;
    const std::size_t nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos) break;
    if (nl >= max_request_head_bytes) return too_long(number == 0);
    std::string_view line = bytes.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (line.empty()) return {head_check::verdict::pass, std::nullopt};
    if (number == 0 && std::any_of(line.begin(), line.end(), [](char c) {
          return is_control(static_cast<unsigned char>(c));
        }))
      return bad_request("the request line contains a control character: '" +
                         rtev::printable(line.substr(0, 80)) + "'");
    if (auto r = number == 0 ? request_line_refusal(line) : header_line_refusal(line, number))
      return *r;
    at.fields += number == 0 ? query_fields(line) : 1;
    if (at.fields > max_head_fields)
      return refuse(431, "header_too_large",
                    "more than " + std::to_string(max_head_fields) +
                        " query parameters and header lines together");
    at.checked = pos;
  }
  if (bytes.size() < max_request_head_bytes) return {};
  return too_long(bytes.find('\n') == std::string_view::npos);
}

std::optional<std::string> url_decode(std::string_view piece, std::string* why) {
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i) {
    auto c = static_cast<unsigned char>(piece[i]);
    std::string_view as_sent = piece.substr(i, 1);
    if (c == '%') {
      const int hi = i + 1 < piece.size() ? hex_value(piece[i + 1]) : -1;
      const int lo = i + 2 < piece.size() ? hex_value(piece[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        if (why)
          *why = "malformed %-escape '" + rtev::printable(piece.substr(i, 3)) +
                 "' (expected % and two hex digits)";
        return std::nullopt;
      }
      c = static_cast<unsigned char>(hi * 16 + lo);
      as_sent = piece.substr(i, 3);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    // lws closes on a decoded NUL and ends the request line at a decoded CR or LF.
    const bool escaped = as_sent.size() == 3;
    if (escaped ? (c == 0 || c == '\r' || c == '\n') : is_control(c)) {
      if (why) *why = "control character " + std::string(as_sent) + " is not allowed";
      return std::nullopt;
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string raw_http_response(const http_response& r,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  const char* reason = "Error";
  switch (r.status) {
    case 400:
      reason = "Bad Request";
      break;
    case 408:
      reason = "Request Timeout";
      break;
    case 414:
      reason = "URI Too Long";
      break;
    case 431:
      reason = "Request Header Fields Too Large";
      break;
    case 501:
      reason = "Not Implemented";
      break;
    case 505:
      reason = "HTTP Version Not Supported";
      break;
    default:
      break;
  }
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason + "\r\n";
  out += "content-type: " + r.content_type + "\r\n";
  out += "content-length: " + std::to_string(r.body.size()) + "\r\n";
  out += "connection: close\r\n";
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

}  // namespace rtev::server_lite
