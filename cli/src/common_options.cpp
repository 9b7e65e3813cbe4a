#include "common_options.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>

#include "exit_codes.hpp"
#include "profiles.hpp"
#include "rtev/duration.hpp"
#include "rtev/time.hpp"
#include "url.hpp"

namespace rtev::cli {

namespace {
// The variable's value; nothing when it is not set (set but empty is "").
std::optional<std::string> env_value(const char* name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in rtev sets the environment
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string env(const char* name) {
  return env_value(name).value_or("");
}
// lws takes an unreadable CA bundle without a word and then trusts nothing, so every
// certificate looks untrusted: refuse it here, naming the file.
void check_ca_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    throw usage_error("--ca-file: cannot read '" + path +
                      "': " + std::generic_category().message(err));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    throw usage_error("--ca-file: '" + path +
                      "' holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
}

}  // namespace

// "A,B,…": several URLs of one cluster. A comma starts another URL only where a scheme
// follows it ("ws://a,ws://b"), so a comma inside one URL ("…?rooms=a,b") stays in it.
std::vector<std::string> split_url_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ',') continue;
    std::size_t j = i + 1;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) != 0 ||
                               text[j] == '+' || text[j] == '-' || text[j] == '.'))
      ++j;
    if (j > i + 1 && text.compare(j, 3, "://") == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  for (const auto& u : out)
    if (u.empty()) throw usage_error("--url: an empty URL in the list '" + text + "'");
  return out;
}

void common_options::resolve() {
  if (profile.empty()) profile = env("RTEV_PROFILE");
  std::optional<profile_entry> p;
  if (!profile.empty()) {
    p = find_profile(profile);
    if (!p) throw usage_error("--profile: no profile '" + profile + "' (see 'rtev profile ls')");
  } else {
    p = current_profile();
  }
  int url_level = 0;  // where the URL came from: 0 flag, 1 environment, 2 profile, 3 default
  if (url.empty()) {
    // Set but empty is a mistake (`export RTEV_URL=$(…)` that found nothing), not "unset":
    // falling back to the default server would test whatever runs there.
    if (const auto v = env_value("RTEV_URL"); v && v->empty())
      throw usage_error(
          "RTEV_URL is set but empty: give it a ws://, wss://, http:// or https:// URL, or unset "
          "it to use the profile or the default");
    url = env("RTEV_URL");
    url_level = 1;
  }
  if (url.empty() && p) {
    url = p->url;
    url_level = 2;
  }
  if (url.empty()) {
    url = default_url;
    url_level = 3;
  }
  if (token.empty()) token = env("RTEV_TOKEN");
  if (token.empty() && p) token = p->token;
  if (tz.empty()) tz = env("RTEV_TZ");
  if (tz.empty() && p) tz = p->tz;
  if (tz.empty()) tz = "UTC";
  try {
    time::validate_zone(tz);
  } catch (const unknown_zone_error& e) {
    throw usage_error(std::string("--tz: ") + e.what());
  }
  connect_timeout_ms = duration_flag("--connect-timeout", connect_timeout);
  if (!ca_file.empty()) check_ca_file(ca_file);
  if (env("RTEV_DEBUG") == "1" && verbose == 0) verbose = 1;
  stdout_tty = ::isatty(1) != 0;
  if (color == "always")
    use_color = true;
  else if (color == "never")
    use_color = false;
  else
    use_color = stdout_tty && env("NO_COLOR").empty();
  // A list: each URL is resolved as if it were the only one (profile, protocol, paths), and
  // they must agree on the protocol.
  std::vector<std::string> list = split_url_list(url);
  url = list.front();
  const common_options unresolved = *this;
  resolve_protocol(url_level, p, env("RTEV_PROTOCOL"));
  for (std::size_t i = 1; i < list.size(); ++i) {
    common_options other = unresolved;
    other.url = list[i];
    other.resolve_protocol(url_level, p, env("RTEV_PROTOCOL"));
    if (other.protocol != protocol)
      throw usage_error("--url: every URL of a list speaks the same protocol; '" + list[i] +
                        "' is " + std::string(to_string(other.protocol)) + ", '" + list.front() +
                        "' " + std::string(to_string(protocol)));
    more_urls.push_back(other.url);
  }
  try {
    client_options probe;
    probe.url = url;
    probe.urls = more_urls;
    probe.protocol = protocol;
    probe.socketio.nsp = socketio.nsp;
    probe.socketio.path = socketio.path;
    client check(probe);  // validates the URL without connecting
  } catch (const config_error& e) {
    throw usage_error(std::string("--url: ") + e.what());
  }
}

client_options common_options::client_config() const {
  client_options c;
  c.url = url;
  c.urls = more_urls;
  c.token = token;
  c.connect_timeout = connect_timeout_ms;
  c.insecure = insecure;
  c.ca_file = ca_file;
  c.reconnect = !no_reconnect;
  if (retry) c.backoff.max_attempts = *retry;
  c.protocol = protocol;
  c.sse = sse;
  c.socketio = socketio;
  c.headers = headers;
  c.rooms = proto.joins;
  c.foreign_wait = foreign_wait;
  return c;
}

std::string common_options::http_base() const {
  try {
    return detail::parse_url(url).origin(true);
  } catch (const config_error& e) {
    throw usage_error(std::string("--url: ") + e.what());
  }
}

}  // namespace rtev::cli
