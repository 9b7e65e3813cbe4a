#include "common_options.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "exit_codes.hpp"
#include "profiles.hpp"
#include "rtev/duration.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text) {
  try {
    return std::chrono::duration_cast<std::chrono::milliseconds>(parse_duration(text));
  } catch (const config_error& e) {
    throw usage_error(flag + ": " + e.what());
  }
}

void add_common(CLI::App& cmd, common_options& o) {
  const char* g = "Connection";
  cmd.set_version_flag("--version", std::string("rtev ") + RTEV_VERSION);
  cmd.add_option("--url", o.url,
                 "Server URL (env RTEV_URL; default " + std::string(default_url) + ")")
      ->group(g);
  cmd.add_option("--token", o.token, "Token (env RTEV_TOKEN)")->group(g);
  cmd.add_option("--profile", o.profile, "Profile from config.json (env RTEV_PROFILE)")->group(g);
  cmd.add_option("--tz", o.tz, "Time zone for displayed times (env RTEV_TZ; default UTC)")
      ->group(g);
  cmd.add_option("--connect-timeout", o.connect_timeout, "Give up connecting after this (exit 3)")
      ->capture_default_str()
      ->group(g);
  cmd.add_option("--retry", o.retry, "Reconnect at most N times after a disconnect")->group(g);
  cmd.add_flag("--no-reconnect", o.no_reconnect, "Exit on the first disconnect")->group(g);
  cmd.add_flag("--insecure", o.insecure, "wss:// without certificate checks")->group(g);
  cmd.add_option("--ca-file", o.ca_file, "CA bundle (PEM) for wss://")->group(g);
  cmd.add_option("--color", o.color, "Colour: auto, always or never (NO_COLOR honoured by auto)")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str()
      ->group(g);
  cmd.add_flag("-q,--quiet", o.quiet, "No diagnostics on stderr")->group(g);
  cmd.add_flag("-v,--verbose", o.verbose, "More diagnostics (env RTEV_DEBUG=1)")->group(g);
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
  if (url.empty()) url = env("RTEV_URL");
  if (url.empty() && p) url = p->url;
  if (url.empty()) url = default_url;
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
  if (connect_timeout_ms.count() <= 0) throw usage_error("--connect-timeout must be positive");
  if (env("RTEV_DEBUG") == "1" && verbose == 0) verbose = 1;
  stdout_tty = ::isatty(1) != 0;
  if (color == "always")
    use_color = true;
  else if (color == "never")
    use_color = false;
  else
    use_color = stdout_tty && env("NO_COLOR").empty();
  // http(s):// URLs name the same server (health and the HTTP API use them); the WebSocket
  // commands get the ws(s):// form.
  if (url.rfind("http://", 0) == 0)
    url = "ws://" + url.substr(7);
  else if (url.rfind("https://", 0) == 0)
    url = "wss://" + url.substr(8);
  try {
    client_options probe;
    probe.url = url;
    client check(probe);  // validates the URL without connecting
  } catch (const config_error& e) {
    throw usage_error(std::string("--url: ") + e.what());
  }
}

client_options common_options::client_config() const {
  client_options c;
  c.url = url;
  c.token = token;
  c.connect_timeout = connect_timeout_ms;
  c.insecure = insecure;
  c.ca_file = ca_file;
  c.reconnect = !no_reconnect;
  if (retry) c.backoff.max_attempts = *retry;
  return c;
}

std::string common_options::http_base() const {
  std::string u = url;
  if (u.rfind("ws://", 0) == 0)
    u = "http://" + u.substr(5);
  else if (u.rfind("wss://", 0) == 0)
    u = "https://" + u.substr(6);
  const auto scheme_end = u.find("://");
  if (scheme_end != std::string::npos) {
    const auto slash = u.find('/', scheme_end + 3);
    if (slash != std::string::npos) u = u.substr(0, slash);
  }
  return u;
}

void note(const common_options& opt, const std::string& line) {
  if (!opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

void debug(const common_options& opt, const std::string& line) {
  if (opt.verbose > 0 && !opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

void connect_or_exit(client& c, const common_options& opt,
                     std::optional<std::chrono::steady_clock::time_point> deadline) {
  auto fut = c.connected();
  c.start();
  auto until = std::chrono::steady_clock::now() + opt.connect_timeout_ms;
  if (deadline && *deadline < until) until = *deadline;
  if (fut.wait_until(until) != std::future_status::ready) {
    c.stop();
    const bool by_deadline =
        deadline && *deadline < std::chrono::steady_clock::now() + opt.connect_timeout_ms;
    throw command_failure(exit_connect, "could not connect to " + opt.url +
                                            (by_deadline ? " before the --timeout deadline"
                                                         : " within " + opt.connect_timeout));
  }
  try {
    fut.get();
  } catch (const request_error&) {
    const state_info s = c.closed().get();
    if (s.auth_failed) throw command_failure(exit_auth, s.reason);
    throw command_failure(exit_connect, "could not connect to " + opt.url + ": " + s.reason);
  }
}

}  // namespace rtev::cli
