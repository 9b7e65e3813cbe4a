#pragma once
// Internal: the one URL parser of the SDK and the CLI. Every server URL — the client's
// (client_options::url / urls), SSE's publish URL, the CLI's --url and its HTTP requests — is
// read here, so they agree on what a URL is and how its parts are written back:
//
//     parsed_url u = parse_url("wss://[::1]:8443/events/ws/connect?presence=false");
//     u.host;              // "::1"          (no brackets)
//     u.authority();       // "[::1]:8443"   (the Host header: port only when not the default)
//     u.origin(true);      // "https://[::1]:8443"  (Origin; the HTTP side of a ws URL)
//     u.path;              // "/events/ws/connect?presence=false" (as given, "/" when empty)
//     u.path_only();       // "/events/ws/connect"
//     u.query();           // "presence=false"
//
// Accepted: ws://, wss://, http://, https:// (any case), a DNS name, an IPv4 address or an
// IPv6 address in brackets (with a zone after %25), an optional port 1–65535, a path and
// query. Refused with rtev::config_error naming the problem: any other scheme, no host, user
// info (user:password@), a space or control character anywhere ("ws://exa mple.com/"), a
// character no host name has, a bad port.

#include <string>

namespace rtev::detail {

struct parsed_url {
  bool tls = false;
  std::string scheme;      ///< "ws", "wss", "http", "https" (lowercase)
  std::string host;        ///< without brackets
  int port = 0;            ///< the scheme's default when the URL names none
  std::string path = "/";  ///< path and query, as given ("/" when empty)

  /// host[:port] as a Host header writes it: IPv6 in brackets, the port only when it is not
  /// the scheme's default (RFC 9110 §7.2).
  std::string authority() const;
  /// scheme://authority — `http`: http(s) even for a ws(s) URL (Origin, the HTTP API of the
  /// same server); otherwise ws(s) even for an http(s) URL.
  std::string origin(bool http) const;
  std::string path_only() const;  ///< path without the query
  std::string query() const;      ///< after '?', without it ("" when none)
  std::string text() const;       ///< scheme://authority/path?query, normalized
};

/// Throws rtev::config_error ("invalid url '…': …").
parsed_url parse_url(const std::string& url);

/// A Redis URL, redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (rtev serve --broker): the host
/// and port read as above (default port 6379), the user info taken apart, and the URL as it
/// may be shown — with the password replaced by "***" — which is all any error quotes.
struct redis_url {
  parsed_url where;
  std::string user, password;
  int db = 0;
  std::string redacted;
};
/// Throws rtev::config_error ("invalid url 'redis://:***@host:x': bad port 'x'").
redis_url parse_redis_url(const std::string& url);

}  // namespace rtev::detail
