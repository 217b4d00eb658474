#include "utilities/fs.h"

#include "lightning/utilities/errors.h"

#include <dirent.h>
#include <sys/stat.h>

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

}  // namespace lightning::detail
