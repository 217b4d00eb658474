#pragma once
// The parsers that take a path get the fuzzer's bytes through an in-memory file: no disk I/O per
// execution, and nothing left behind.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace lightning::fuzz {

/// A memfd whose content is replaced by each `write`; `path()` opens it by name.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("fuzz-input", 0)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { ::close(fd_); }
  const std::string& path() const { return path_; }
  void write(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace lightning::fuzz
