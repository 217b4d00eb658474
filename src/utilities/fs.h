#pragma once
// Small POSIX file-system helpers (see docs/internals.md: no <filesystem> directory walks).
#include <string>
#include <vector>

namespace lightning::detail {

/// `mkdir -p`; throws MisconfigurationException naming the folder when it cannot be created.
void make_dirs(const std::string& path);
/// The error for a folder this process cannot create or write, in the one form every writer
/// uses: "<who>: cannot create the <what> '<path>': <reason>; accepted: a <setting> where this
/// process may create folders and files".
[[noreturn]] void fail_unwritable_folder(const std::string& who, const std::string& what, const std::string& path,
                                         int err, const std::string& setting);
/// Throws `fail_unwritable_folder`'s error unless `path` is a writable folder or one this
/// process could create (its nearest existing ancestor is a writable folder). Creates nothing.
void check_writable_folder(const std::string& path, const std::string& who, const std::string& what,
                           const std::string& setting);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
/// Names of the entries of `dir` (no "." or ".."); empty when it does not exist.
std::vector<std::string> list_dir(const std::string& dir);
/// The folder part of `path` ("" for a bare name).
std::string parent_dir(const std::string& path);
/// Modification time in nanoseconds (0 when missing).
long long mtime_ns(const std::string& path);
/// Writes `text` to `path` through `path + ".tmp"`, synced and renamed over it, so a reader sees
/// the old file or the whole new one, never half of one (the temporary is removed on failure).
/// Returns 0, or the errno of the step that failed: each writer words its own error.
[[nodiscard]] int write_file_atomically(const std::string& path, const std::string& text);

}  // namespace lightning::detail
