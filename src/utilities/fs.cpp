#include "utilities/fs.h"

#include "lightning/utilities/errors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace lightning::detail {

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

long long mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

void make_dirs(const std::string& path) {
  // Create each missing ancestor, outermost first; errors name the requested folder.
  std::vector<std::string> missing;
  for (std::string p = path; !p.empty() && p != "/" && !is_directory(p); p = parent_dir(p)) missing.push_back(p);
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) != 0 && errno != EEXIST)
      throw MisconfigurationException(fmt::format("cannot create the folder '{}' ('{}': {}); accepted: a writable location",
                                                  path, *it, std::strerror(errno)));
    if (!is_directory(*it))
      throw MisconfigurationException(fmt::format(
          "cannot create the folder '{}': '{}' exists and is not a folder; accepted: a writable folder path", path, *it));
  }
}

void fail_unwritable_folder(const std::string& who, const std::string& what, const std::string& path, int err,
                            const std::string& setting) {
  throw MisconfigurationException(fmt::format("{}: cannot create the {} '{}': {}; accepted: a {} where this process may "
                                              "create folders and files",
                                              who, what, path, std::strerror(err), setting));
}

void check_writable_folder(const std::string& path, const std::string& who, const std::string& what,
                           const std::string& setting) {
  // The nearest existing ancestor decides (a relative path's is the working directory).
  for (std::string p = path; !p.empty();) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) fail_unwritable_folder(who, what, path, ENOTDIR, setting);
      if (::access(p.c_str(), W_OK | X_OK) != 0) fail_unwritable_folder(who, what, path, errno, setting);
      return;
    }
    if (errno != ENOENT) fail_unwritable_folder(who, what, path, errno, setting);
    const std::string parent = parent_dir(p);
    if (parent == p) return;
    p = parent;
  }
  if (::access(".", W_OK | X_OK) != 0) fail_unwritable_folder(who, what, path, errno, setting);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return names;
  while (auto* entry = ::readdir(d.get())) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  return names;
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return "";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

int write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  for (size_t written = 0; written < text.size() && !err;) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n >= 0) written += static_cast<size_t>(n);
    else if (errno != EINTR) err = errno;
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) ::unlink(tmp.c_str());
  return err;
}

}  // namespace lightning::detail
