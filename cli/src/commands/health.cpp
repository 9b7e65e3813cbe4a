#include "commands/health.hpp"

#include <iostream>

#include "connection_flags.hpp"
#include "diagnostics.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "interrupts.hpp"
#include "rtev/json.hpp"

namespace rtev::cli {

void setup_health(CLI::App& app, health_options& o) {
  auto* cmd = app.add_subcommand("health", "Query /health: exit 0 when healthy, 3 otherwise");
  cmd->add_option("--wait", o.wait, "Keep trying this long for a server that is still starting");
  // One HTTP GET: only the flags that apply to it (no token, reconnects or colour).
  add_http_common(*cmd, o.common);
}

int run_health(health_options& o) {
  o.common.resolve();
  const auto wait = o.wait ? duration_flag("--wait", *o.wait, {std::chrono::milliseconds(0)})
                           : std::chrono::milliseconds(0);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const std::string url = o.common.http_base() + "/health";
  debug(o.common, "checking " + url + (o.wait ? " (waiting up to " + *o.wait + ")" : ""));
  std::string last, said;
  http_client http(o.common);
  for (;;) {
    try {
      http_result r = http.fetch("GET", url);
      nlohmann::json j = rtev::parse_json(r.body);
      if (r.status == 200 && j.is_object() && j.value("status", "") == "ok") {
        if (!o.common.quiet) std::cout << (o.common.stdout_tty ? j.dump(2) : j.dump()) << std::endl;
        return exit_ok;
      }
      last = "unhealthy: HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
    } catch (const usage_error&) {
      throw;
    } catch (const interrupted&) {
      throw;
    } catch (const command_failure& e) {
      // A refused certificate: waiting would meet the same one.
      note(o.common, e.what());
      return e.code;
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (last != said) debug(o.common, "not healthy yet: " + last);  // once per new reason
    said = last;
    // Polling a server that is starting: a short pause between tries is the point.
    pause_or_interrupt(std::chrono::milliseconds(100), " while waiting for " + url);
  }
  note(o.common, last);
  return exit_connect;
}

}  // namespace rtev::cli
