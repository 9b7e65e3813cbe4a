#include "http_request.hpp"

#include <cctype>
#include <stdexcept>

#include "connecting.hpp"
#include "exit_codes.hpp"
#include "interrupts.hpp"
#include "rtev/error.hpp"
#include "url.hpp"

namespace rtev::cli {

namespace {

bool same_name(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// "https://host:port" of a URL: how messages name the server.
std::string origin_of(const std::string& url) {
  try {
    return detail::parse_url(url).origin(true);
  } catch (const std::exception&) {
    return url;  // fetch() refuses it with the parser's own message
  }
}

std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + " ms";
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '*')
      out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

http_result http_client::fetch(const std::string& method, const std::string& url,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::optional<std::chrono::milliseconds> timeout) {
  const common_options& opt = opt_;
  const std::string server = origin_of(url);
  detail::fetch_request req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.timeout = timeout.value_or(opt.connect_timeout_ms);
  req.insecure = opt.insecure;
  req.ca_file = opt.ca_file;
  // Polled every 20 ms: a server that never answers cannot hold up Ctrl-C.
  req.cancelled = [] { return interrupt_signal() != 0; };
  req.headers = headers;
  if (!body.empty() || method == "POST")
    req.headers.emplace_back("Content-Type", "application/json");
  // --header last; one with a name the command already sends replaces it (--header
  // 'Authorization: …' instead of --token's).
  for (const auto& [name, value] : opt.headers) {
    for (auto it = req.headers.begin(); it != req.headers.end();)
      it = same_name(it->first, name) ? req.headers.erase(it) : it + 1;
  }
  req.headers.insert(req.headers.end(), opt.headers.begin(), opt.headers.end());

  detail::fetch_result r;
  try {
    r = fetcher_.fetch(req);
  } catch (const config_error& e) {
    throw usage_error(std::string("--url: ") + e.what());
  }
  using outcome = detail::fetch_result::outcome;
  switch (r.what) {
    case outcome::complete:
      return {r.response.status, std::move(r.response.body)};
    case outcome::cancelled:
      throw_if_interrupted(" while talking to " + server);
      throw std::runtime_error("request to " + server + " cancelled");
    case outcome::certificate:
      throw command_failure(exit_connect, "cannot connect to " + server + ": " + r.error +
                                              certificate_advice(r.certificate_problem));
    case outcome::refused:
    case outcome::unknown_host:
      throw std::runtime_error("cannot connect to " + server + ": " + r.error);
    case outcome::timed_out:
      throw std::runtime_error("no response from " + server + " within " +
                               duration_text(req.timeout));
    case outcome::failed:
      break;
  }
  throw std::runtime_error(
      (r.response.status ? server + ": " : "cannot connect to " + server + ": ") + r.error);
}

}  // namespace rtev::cli
