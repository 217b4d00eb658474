#pragma once
// Small POSIX file-system helpers (see docs/internals.md: no <filesystem> directory walks).
#include <string>
#include <vector>

namespace lightning::detail {

/// `mkdir -p`; throws MisconfigurationException naming the folder when it cannot be created.
void make_dirs(const std::string& path);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
/// Names of the entries of `dir` (no "." or ".."); empty when it does not exist.
std::vector<std::string> list_dir(const std::string& dir);
/// The folder part of `path` ("" for a bare name).
std::string parent_dir(const std::string& path);
/// Modification time in nanoseconds (0 when missing).
long long mtime_ns(const std::string& path);

}  // namespace lightning::detail
