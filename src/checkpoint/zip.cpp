#include "checkpoint/zip.h"

#include "checkpoint/pickle.h"

#include <c10/core/CPUAllocator.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <vector>

namespace lightning::detail {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEnd = 0x06054b50;
constexpr uint32_t kEnd64 = 0x06064b50, kEnd64Locator = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30, kCentralHeaderSize = 46, kEndSize = 22, kEnd64Size = 56, kLocatorSize = 20;

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::vector<uint8_t> bytes_at(const ByteSource& source, uint64_t pos, uint64_t n) {
  if (pos > source.size() || n > source.size() - pos) throw FormatError("zip structure points past the end of the file");
  std::vector<uint8_t> out(n);
  source.read(pos, out.data(), n);
  return out;
}

}  // namespace

ZipArchive::ZipArchive(const ByteSource& source) : source_(source) {
  const uint64_t file_size = source.size();
  if (file_size < kEndSize) throw FormatError("not a zip archive (too short)");
  // The end record is last, after a comment of at most 64 KiB.
  const uint64_t tail_size = std::min<uint64_t>(file_size, kEndSize + 0xffff);
  const auto tail = bytes_at(source, file_size - tail_size, tail_size);
  int64_t end = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndSize); i >= 0; --i) {
    if (le(&tail[i], 4) == kEnd && i + kEndSize + le(&tail[i + 20], 2) <= tail_size) {
      end = i;
      break;
    }
  }
  if (end < 0) throw FormatError("not a zip archive (no end of central directory; truncated?)");
  uint64_t entries = le(&tail[end + 10], 2), directory_size = le(&tail[end + 12], 4);
  uint64_t directory_offset = le(&tail[end + 16], 4);
  const uint64_t end_offset = file_size - tail_size + end;
  if (entries == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff) {
    if (end_offset < kLocatorSize) throw FormatError("zip64 locator missing");
    auto locator = bytes_at(source, end_offset - kLocatorSize, kLocatorSize);
    if (le(locator.data(), 4) != kEnd64Locator) throw FormatError("zip64 locator missing");
    auto end64 = bytes_at(source, le(&locator[8], 8), kEnd64Size);
    if (le(end64.data(), 4) != kEnd64) throw FormatError("zip64 end of central directory missing");
    entries = le(&end64[32], 8);
    directory_size = le(&end64[40], 8);
    directory_offset = le(&end64[48], 8);
  }
  if (entries > directory_size / kCentralHeaderSize) throw FormatError("zip central directory is inconsistent");
  const auto directory = bytes_at(source, directory_offset, directory_size);

  std::vector<std::pair<std::string, Record>> all;
  size_t pos = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (directory.size() - pos < kCentralHeaderSize || le(&directory[pos], 4) != kCentralHeader)
      throw FormatError("zip central directory is corrupted");
    const uint8_t* h = &directory[pos];
    const uint64_t flags = le(h + 8, 2), method = le(h + 10, 2);
    const size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    if (directory.size() - pos - kCentralHeaderSize < name_len + extra_len + comment_len)
      throw FormatError("zip central directory is corrupted");
    Record r{le(h + 42, 4), le(h + 24, 4), static_cast<uint32_t>(le(h + 16, 4))};
    uint64_t compressed = le(h + 20, 4);
    std::string name(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    // Zip64 extra field: the 8-byte values of the fields saturated above, in this order.
    const uint8_t* extra = h + kCentralHeaderSize + name_len;
    for (size_t e = 0; e + 4 <= extra_len;) {
      const size_t id = le(extra + e, 2), len = le(extra + e + 2, 2);
      if (e + 4 + len > extra_len) break;
      if (id == 0x0001) {
        size_t f = e + 4;
        for (uint64_t* field : {&r.size, &compressed, &r.header_offset}) {
          if (*field != 0xffffffff) continue;
          if (f + 8 > e + 4 + len) throw FormatError("zip64 extra field is too short");
          *field = le(extra + f, 8);
          f += 8;
        }
      }
      e += 4 + len;
    }
    if (flags & 1) throw FormatError(fmt::format("zip record '{}' is encrypted", name));
    if (method != 0 || compressed != r.size)
      throw FormatError(fmt::format("zip record '{}' is compressed (torch.save stores records uncompressed)", name));
    all.emplace_back(std::move(name), r);
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }

  // The folder is whatever holds data.pkl at the top level.
  std::string folder;
  bool found = false;
  for (const auto& [name, r] : all) {
    auto slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      folder = name.substr(0, slash + 1);
      found = true;
      break;
    }
  }
  if (!found) throw FormatError("no data.pkl in the archive (not a torch.save file)");
  for (auto& [name, r] : all)
    if (name.compare(0, folder.size(), folder) == 0) records_.emplace(name.substr(folder.size()), r);
}

const ZipArchive::Record& ZipArchive::find(const std::string& name) const {
  auto it = records_.find(name);
  if (it == records_.end()) throw FormatError(fmt::format("record '{}' is missing", name));
  return it->second;
}

uint64_t ZipArchive::size(const std::string& name) const { return find(name).size; }

c10::DataPtr ZipArchive::read(const std::string& name) const {
  const auto& r = find(name);
  const auto header = bytes_at(source_, r.header_offset, kLocalHeaderSize);
  if (le(header.data(), 4) != kLocalHeader) throw FormatError(fmt::format("zip record '{}' is corrupted", name));
  const uint64_t data = r.header_offset + kLocalHeaderSize + le(&header[26], 2) + le(&header[28], 2);
  if (data > source_.size() || r.size > source_.size() - data)
    throw FormatError(fmt::format("zip record '{}' extends past the end of the file (truncated?)", name));
  auto out = c10::GetCPUAllocator()->allocate(r.size);
  source_.read(data, out.get(), r.size);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION  // lets the fuzzer reach the pickle reader
  if (crc32_z(0, static_cast<const Bytef*>(out.get()), r.size) != r.crc)
    throw FormatError(fmt::format("zip record '{}' fails its CRC check (corrupted)", name));
#endif
  return out;
}

}  // namespace lightning::detail
