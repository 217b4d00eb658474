#pragma once
// Reading the zip container of `torch.save` files.
//
// Our own central-directory reader rather than LibTorch's PyTorchStreamReader: fuzzing showed
// that 1.13's reader leaks its miniz state when its checks throw inside the constructor, and
// allocates whatever size a corrupted directory claims (4 GiB from a 1 KiB file) before
// finding out the data is not there. Here every offset and size is checked against the file
// before memory is allocated.
#include <c10/core/Allocator.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace lightning::detail {

/// Random access to the bytes of a file or buffer. `read` throws on a short read.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  virtual void read(uint64_t pos, void* buffer, size_t n) const = 0;
};

/// The records of a `torch.save` archive: `<folder>/data.pkl`, `<folder>/data/<key>`, ...
/// (the folder is the file's stem in Python, `archive` in C++). Records must be stored
/// uncompressed, as `torch.save` writes them; zip64 archives (over 4 GiB) are read.
class ZipArchive {
 public:
  /// Reads the central directory; throws FormatError if the data is not such an archive.
  explicit ZipArchive(const ByteSource& source);

  /// `name` is relative to the folder of data.pkl.
  bool has(const std::string& name) const { return records_.count(name) != 0; }
  uint64_t size(const std::string& name) const;
  /// The bytes of the record, CRC-checked, in memory from LibTorch's CPU allocator.
  c10::DataPtr read(const std::string& name) const;

 private:
  struct Record {
    uint64_t header_offset;
    uint64_t size;
    uint32_t crc;
  };
  const Record& find(const std::string& name) const;

  const ByteSource& source_;
  std::unordered_map<std::string, Record> records_;
};

}  // namespace lightning::detail
