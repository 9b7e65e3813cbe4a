#pragma once
// `rtev stats [URL]`: a server's /api/stats (connections, users, rooms, events published,
// delivered and dropped, per type) as a table on a terminal, as JSON otherwise.
#include <CLI/CLI.hpp>
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

struct stats_options {
  common_options common;
  std::string url_arg;
  std::string format;  ///< table or json; default table on a terminal, json otherwise
};

void setup_stats(CLI::App& app, stats_options& opt);
int run_stats(stats_options& opt);

}  // namespace rtev::cli
