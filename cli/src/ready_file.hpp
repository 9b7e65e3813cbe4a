#pragma once
// --ready-file FILE for `tail` and `subscribe`: a file that appears once the command is ready
// (every room joined), for scripts that must not act before. Written whole under another name,
// then renamed, so a watcher never reads half a file.

#include <string>

namespace rtev::cli {

/// Before connecting: removes a FILE left by an earlier run (so it cannot be taken for this
/// run's) and checks that its directory takes a new file. Throws usage_error naming `flag`.
void prepare_ready_file(const std::string& flag, const std::string& path);

/// Writes `text` to `path` atomically (a temporary file in the same directory, then rename).
/// Returns false (errno set) when it cannot.
bool write_file_atomically(const std::string& path, const std::string& text);

}  // namespace rtev::cli
