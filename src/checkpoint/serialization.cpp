// torch.save files: the zip container (our reader, LibTorch's writer), our pickle code, atomic writes.
#include "lightning/checkpoint/serialization.h"

#include "checkpoint/pickle.h"
#include "checkpoint/zip.h"
#include "lightning/utilities/errors.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "utilities/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <string_view>

namespace lightning {
namespace {

std::string error_text(int err) { return std::strerror(err); }

// c10 messages may carry a backtrace after the first line.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

class MemorySource final : public detail::ByteSource {
 public:
  MemorySource(const void* data, size_t size) : data_(static_cast<const char*>(data)), size_(size) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t pos, void* buffer, size_t n) const override {
    if (pos > size_ || n > size_ - pos) throw detail::FormatError("read past the end of the data");
    if (n) std::memcpy(buffer, data_ + pos, n);
  }

 private:
  const char* data_;
  size_t size_;
};

// pread straight into the destination: a storage record is read once, into the memory that
// becomes the tensor.
class FileSource final : public detail::ByteSource {
 public:
  FileSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  void read(uint64_t pos, void* buffer, size_t n) const override {
    size_t got = 0;
    while (got < n) {
      auto r = ::pread(fd_, static_cast<char*>(buffer) + got, n - got, static_cast<off_t>(pos + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw detail::FormatError(error_text(errno));
      if (r == 0) throw detail::FormatError("file shrank while reading");
      got += static_cast<size_t>(r);
    }
  }

 private:
  int fd_;
  uint64_t size_;
};

/// Files of `torch.save(..., _use_new_zipfile_serialization=False)` (and of PyTorch < 1.6) start
/// with a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c.
bool is_legacy_torch_save(const detail::ByteSource& source) {
  static constexpr unsigned char magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                            0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (source.size() < sizeof magic) return false;
  unsigned char head[sizeof magic];
  source.read(0, head, sizeof head);
  return std::memcmp(head, magic, sizeof magic) == 0;
}

c10::IValue read_archive(const detail::ByteSource& source, const std::string& name) {
  auto fail = [&](const std::string& problem) {
    return CheckpointError(fmt::format("cannot read checkpoint '{}': {}", name, problem));
  };
  try {
    if (is_legacy_torch_save(source))
      throw detail::FormatError(
          "it is in the legacy (non-zip) format of torch.save, which this library does not read; accepted: the zip "
          "format of PyTorch >= 1.6. Convert it in Python: torch.save(torch.load(path), path, "
          "_use_new_zipfile_serialization=True)");
    detail::ZipArchive zip(source);
    if (zip.has("byteorder")) {
      auto order_size = zip.size("byteorder");
      auto order = zip.read("byteorder");
      std::string_view text(static_cast<const char*>(order.get()), order_size);
      if (text != "little") throw detail::FormatError(fmt::format("byte order '{}' is not supported", text.substr(0, 16)));
    }
    const auto pkl_size = zip.size("data.pkl");
    const auto pkl = zip.read("data.pkl");
    auto load_storage = [&](const std::string& key, size_t nbytes) {
      const std::string record = "data/" + key;
      if (!zip.has(record)) throw detail::FormatError(fmt::format("storage record '{}' is missing", record));
      if (zip.size(record) != nbytes)
        throw detail::FormatError(fmt::format("storage record '{}' has {} bytes, expected {}", record, zip.size(record), nbytes));
      return c10::Storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(nbytes), zip.read(record), nullptr, false);
    };
    return detail::unpickle(static_cast<const char*>(pkl.get()), pkl_size, load_storage);
  } catch (const c10::Error& e) {
    throw fail(first_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    throw fail("out of memory");
  } catch (const std::exception& e) {
    throw fail(first_line(e.what()));
  }
}

// Runs `f` (pickling or the zip writer); its errors become CheckpointError about `what`.
template <typename F>
auto writing(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("cannot write checkpoint {}: {}", what, first_line(e.what_without_backtrace())));
  } catch (const std::exception& e) {
    throw CheckpointError(fmt::format("cannot write checkpoint {}: {}", what, e.what()));
  }
}

// --- temporary files -------------------------------------------------------------------------
// A save writes `.<name>.tmp.<pid>.<nonce>` and renames it. The writer holds an flock on it while
// it exists, so a file of that shape that nobody has locked was left by a killed process: the
// first save of a process into a folder removes those. The nonce is random per process, so a
// restarted process with the PID of a killed one (usual in containers) picks other names.

bool is_temporary_name(std::string_view name) {
  if (name.size() < 2 || name[0] != '.') return false;
  const auto tmp = name.rfind(".tmp.");
  if (tmp == std::string_view::npos || tmp == 0) return false;
  const auto rest = name.substr(tmp + 5);  // "<pid>.<nonce or counter>"
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return false;
  auto all_of = [](std::string_view s, const char* chars) { return s.find_first_not_of(chars) == std::string_view::npos; };
  return all_of(rest.substr(0, dot), "0123456789") && all_of(rest.substr(dot + 1), "0123456789abcdef");
}

/// Removes the temporary files in `folder` that no live writer holds, once per folder and process.
void remove_leftover_temporaries(const std::string& folder) {
  static std::mutex mutex;
  static std::set<std::string> cleaned;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!cleaned.insert(folder).second) return;
  }
  for (const auto& name : detail::list_dir(folder)) {
    if (!is_temporary_name(name)) continue;
    const std::string path = folder + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());
    ::close(fd);  // also releases our lock
  }
}

/// Creates, opens and locks a new temporary file beside `path`; returns its fd and name.
std::pair<int, std::string> open_temporary(const std::string& path, size_t slash) {
  static const uint64_t nonce = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }();
  static std::atomic<uint64_t> counter{0};
  const std::string prefix = path.substr(0, slash == std::string::npos ? 0 : slash + 1) + "." +
                             path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp." +
                             std::to_string(::getpid()) + ".";
  for (int attempt = 0;; ++attempt) {
    const std::string tmp = prefix + fmt::format("{:016x}{:x}", nonce, counter++);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST && attempt < 8) continue;
      return {-errno, tmp};
    }
    // A cleaner may have removed it between our open and our lock: then take another name.
    struct stat ours {}, there {};
    if (::flock(fd, LOCK_EX) == 0 && ::fstat(fd, &ours) == 0 && ::stat(tmp.c_str(), &there) == 0 &&
        ours.st_ino == there.st_ino && ours.st_dev == there.st_dev)
      return {fd, tmp};
    ::close(fd);
    if (attempt >= 8) return {-EEXIST, tmp};
  }
}

// Makes the rename durable; filesystems without folder fsync answer EINVAL.
int sync_folder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
  ::close(fd);
  return err;
}

}  // namespace

std::vector<char> torch_save_to_bytes(const c10::IValue& obj) {
  auto pickled = writing("to memory", [&] { return detail::pickle(obj); });
  size_t estimate = pickled.pkl.size() + 4096;
  for (const auto& r : pickled.records) estimate += r.bytes.nbytes() + 256;
  std::vector<char> out;
  bool out_of_memory = false;
  try {
    out.reserve(estimate);
  } catch (const std::bad_alloc&) {
    out_of_memory = true;
  }
  writing("to memory", [&] {
    detail::write_archive(pickled, [&](const void* data, size_t n) {
      if (out_of_memory) return;
      try {
        out.insert(out.end(), static_cast<const char*>(data), static_cast<const char*>(data) + n);
      } catch (const std::bad_alloc&) {
        out_of_memory = true;
      }
    });
  });
  if (out_of_memory) throw CheckpointError("cannot write checkpoint to memory: out of memory");
  return out;
}

void torch_save(const c10::IValue& obj, const std::string& path) {
  auto fail = [&](const std::string& problem) {
    return CheckpointError(fmt::format("cannot write checkpoint '{}': {}", path, problem));
  };
  const auto slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  if (file.empty() || file == "." || file == "..") throw fail("not a file name");
  const std::string what = "'" + path + "'";
  auto pickled = writing(what, [&] { return detail::pickle(obj); });

  // Hidden and unique per process and call, so concurrent savers and rotation never see it.
  remove_leftover_temporaries(folder);
  auto opened = open_temporary(path, slash);
  const int fd = opened.first;
  const std::string tmp = std::move(opened.second);
  if (fd < 0) throw fail(error_text(-fd));

  int err = 0;  // the first write error; later chunks are dropped
  auto sink = [&](const void* data, size_t n) {
    auto p = static_cast<const char*>(data);
    while (!err && n) {
      auto w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) err = errno;
      else if (w == 0) err = EIO;
      else {
        p += w;
        n -= static_cast<size_t>(w);
      }
    }
  };
  try {
    writing(what, [&] { detail::write_archive(pickled, sink); });
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw fail(error_text(err));
  }
  if (int e = sync_folder(folder)) throw fail("written, but syncing its folder failed: " + error_text(e));
}

c10::IValue torch_load_from_bytes(const void* data, size_t size, const std::string& name) {
  return read_archive(MemorySource(data, size), name);
}

c10::IValue torch_load(const std::string& path) {
  // O_NONBLOCK: a FIFO under that name must not hang us (regular files ignore the flag).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw CheckpointError(fmt::format("cannot read checkpoint '{}': {}", path, error_text(errno)));
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) problem = error_text(errno);
  else if (S_ISDIR(st.st_mode)) problem = error_text(EISDIR);
  else if (!S_ISREG(st.st_mode)) problem = "not a regular file";
  if (!problem.empty()) {
    ::close(fd);
    throw CheckpointError(fmt::format("cannot read checkpoint '{}': {}", path, problem));
  }
  return read_archive(FileSource(fd, static_cast<uint64_t>(st.st_size)), path);
}

}  // namespace lightning
