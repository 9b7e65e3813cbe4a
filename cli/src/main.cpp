// rtev: registers the subcommands and maps errors to the documented exit codes.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands/serve.hpp"
#include "exit_codes.hpp"
#include "rtev/error.hpp"

int main(int argc, char** argv) {
  using namespace rtev::cli;
  CLI::App app{"rtev: watch, test and serve real-time event streams", "rtev"};
  app.set_version_flag("--version", std::string("rtev ") + RTEV_VERSION);
  app.require_subcommand(1);

  serve_options serve;
  setup_serve(app, serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rtev: " << e.what() << " (see 'rtev --help')\n";
    return exit_usage;
  }

  try {
    if (app.got_subcommand("serve")) return run_serve(serve);
  } catch (const usage_error& e) {
    std::cerr << "rtev: " << e.what() << '\n';
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "rtev: " << e.what() << '\n';
    return exit_error;
  }
  return exit_ok;
}
