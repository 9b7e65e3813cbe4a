// One URL parser for the SDK and the CLI (url.hpp).

#include "url.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>

#include "rtev/client.hpp"

namespace rtev::detail {

namespace {

// What a host may be: a DNS name or IPv4 address (letters, digits, '-', '.', and '_' which
// some internal names use), or inside brackets an IPv6 address (hex digits, ':', '.', and a
// zone after '%'). Anything else — a space, '@' from user info, a stray ':' — would be sent
// on as is: lws would look up a name no resolver has, or write a broken request line.
bool valid_host_char(char ch, bool ipv6) {
  const auto c = static_cast<unsigned char>(ch);
  if (ipv6) return std::isxdigit(c) || ch == ':' || ch == '.';
  return std::isalnum(c) || ch == '-' || ch == '.' || ch == '_';
}

// `url` as parsed; `shown` as errors quote it (a Redis URL's without its password); `redis`:
// the redis:// scheme (default port 6379) instead of the client's four.
parsed_url parse(const std::string& url, const std::string& shown, bool redis) {
  parsed_url u;
  // Nothing in a URL is whitespace or a control character (RFC 3986): "ws://exa mple.com/"
  // is a typo, not a host.
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f)
      throw config_error(
          "invalid url '" + shown + "': it contains " +
          (ch == ' ' ? std::string("a space") : "the control character " + std::to_string(c)) +
          " (percent-encode it, e.g. %20)");
  }
  const auto sep = url.find("://");
  u.scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  for (auto& ch : u.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (redis ? u.scheme != "redis"
            : u.scheme != "ws" && u.scheme != "wss" && u.scheme != "http" && u.scheme != "https")
    throw config_error("invalid url '" + shown +
                       (redis ? "': expected redis://[:PASSWORD@]HOST[:PORT][/DB]"
                              : "': expected ws://, wss://, http:// or https://HOST[:PORT]/PATH"));
  u.tls = u.scheme == "wss" || u.scheme == "https";
  const std::string rest = url.substr(sep + 3);
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.path.front() == '?') u.path.insert(0, "/");
  if (authority.empty()) throw config_error("invalid url '" + shown + "': no host");
  if (authority.find('@') != std::string::npos)
    throw config_error("invalid url '" + shown +
                       "': user info (user:password@) is not supported; give credentials as a "
                       "token or a header");
  std::string port;
  if (authority.front() == '[') {  // [::1]:8000
    const auto close = authority.find(']');
    if (close == std::string::npos) throw config_error("invalid url '" + shown + "': unclosed '['");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  const bool ipv6 = authority.front() == '[';
  if (u.host.empty()) throw config_error("invalid url '" + shown + "': no host");
  // An IPv6 zone (after '%', percent-encoded as %25 in a URL) names an interface: any
  // unreserved characters.
  const auto zone = ipv6 ? u.host.find('%') : std::string::npos;
  for (std::size_t i = 0; i < u.host.size(); ++i) {
    const char ch = u.host[i];
    if (i >= zone) {
      if (std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("%-._~", ch)) continue;
    } else if (valid_host_char(ch, ipv6)) {
      continue;
    }
    throw config_error("invalid url '" + shown + "': the host '" + u.host + "' contains '" +
                       std::string(1, ch) + "'" +
                       (ipv6 ? " (an IPv6 address in brackets has hex digits, ':' and '.')"
                             : " (a host name has letters, digits, '-' and '.')"));
  }
  if (port.empty()) {
    u.port = redis ? 6379 : u.tls ? 443 : 80;
  } else {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end || p <= 0 || p > 65535)
      throw config_error("invalid url '" + shown + "': bad port '" + port + "'");
    u.port = static_cast<int>(p);
  }
  return u;
}

}  // namespace

parsed_url parse_url(const std::string& url) {
  return parse(url, url, false);
}

redis_url parse_redis_url(const std::string& url) {
  redis_url r;
  // The user info is taken off first, so that no error, log line or page shows the password.
  std::string rest = url;
  r.redacted = url;
  const auto sep = url.find("://");
  if (sep != std::string::npos) {
    const auto end = url.find_first_of("/?", sep + 3);
    const auto at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
    if (at != std::string::npos && at > sep) {
      const std::string info = url.substr(sep + 3, at - sep - 3);
      const auto colon = info.find(':');
      r.user = info.substr(0, colon);
      if (colon != std::string::npos) r.password = info.substr(colon + 1);
      rest = url.substr(0, sep + 3) + url.substr(at + 1);
      r.redacted = url.substr(0, sep + 3) + (r.user.empty() ? "" : r.user) +
                   (colon != std::string::npos ? ":***" : "") + "@" + url.substr(at + 1);
    }
  }
  r.where = parse(rest, r.redacted, true);
  const std::string db = r.where.path_only().substr(1);
  if (!r.where.query().empty())
    throw config_error("invalid url '" + r.redacted + "': a query string is not used");
  if (!db.empty()) {
    char* end = nullptr;
    const long n = std::strtol(db.c_str(), &end, 10);
    if (*end || n < 0 || n > 1000000 || !std::isdigit(static_cast<unsigned char>(db[0])))
      throw config_error("invalid url '" + r.redacted + "': the database '" + db +
                         "' is not a number");
    r.db = static_cast<int>(n);
  }
  return r;
}

std::string parsed_url::authority() const {
  std::string a = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) a += ":" + std::to_string(port);
  return a;
}

std::string parsed_url::origin(bool http) const {
  const char* s = http ? (tls ? "https://" : "http://") : (tls ? "wss://" : "ws://");
  return s + authority();
}

std::string parsed_url::path_only() const {
  return path.substr(0, path.find('?'));
}

std::string parsed_url::query() const {
  const auto q = path.find('?');
  return q == std::string::npos ? std::string() : path.substr(q + 1);
}

std::string parsed_url::text() const {
  return scheme + "://" + authority() + path;
}

}  // namespace rtev::detail
