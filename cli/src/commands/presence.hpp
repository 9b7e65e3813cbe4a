#pragma once
// `rtev presence ROOM [URL]`: who is in a room now (the PRESENCE request of rtev's protocol),
// as a table on a terminal, as JSON otherwise.
#include <CLI/CLI.hpp>
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

struct presence_options {
  common_options common;
  std::string room, url_arg;
  std::string format;  ///< table or json; default table on a terminal, json otherwise
};

void setup_presence(CLI::App& app, presence_options& opt);
int run_presence(presence_options& opt);

}  // namespace rtev::cli
