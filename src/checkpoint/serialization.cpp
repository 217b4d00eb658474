// torch.save files: the zip container (our reader, LibTorch's writer), our pickle code, atomic writes.
#include "lightning/checkpoint/serialization.h"

#include "checkpoint/pickle.h"
#include "checkpoint/zip.h"
#include "lightning/utilities/errors.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
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

c10::IValue read_archive(const detail::ByteSource& source, const std::string& name) {
  auto fail = [&](const std::string& problem) {
    return CheckpointError(fmt::format("cannot read checkpoint '{}': {}", name, problem));
  };
  try {
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
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path.substr(0, slash == std::string::npos ? 0 : slash + 1) + "." + file + ".tmp." +
                          std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw fail(error_text(errno));

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
