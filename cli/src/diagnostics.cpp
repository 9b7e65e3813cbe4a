#include "diagnostics.hpp"

#include <iostream>

namespace rtev::cli {

void note(const common_options& opt, const std::string& line) {
  if (!opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

void debug(const common_options& opt, const std::string& line) {
  if (opt.verbose > 0 && !opt.quiet) std::cerr << "rtev: " << line << std::endl;
}

}  // namespace rtev::cli
