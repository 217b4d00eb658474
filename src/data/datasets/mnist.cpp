#include "lightning/data/datasets/mnist.h"

#include "../index_tensor.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>
#include <torch/types.h>
#include <zlib.h>

#include <array>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>

namespace lightning {
namespace {

/// Closes the gzFile on every path out of read_idx_file.
struct GzFile {
  gzFile file = nullptr;
  ~GzFile() {
    if (file) gzclose(file);
  }
};

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw MisconfigurationException(fmt::format("IDX file '{}': {}", path, problem));
}

/// Reads up to `len` bytes; returns how many were read (less at the end of the data).
uint64_t read_bytes(GzFile& gz, const std::string& path, void* buffer, uint64_t len) {
  auto* out = static_cast<unsigned char*>(buffer);
  uint64_t total = 0;
  while (total < len) {
    const auto chunk = static_cast<unsigned>(std::min<uint64_t>(len - total, 1u << 30));
    const int got = gzread(gz.file, out + total, chunk);
    if (got < 0) {
      int err = Z_OK;
      const char* msg = gzerror(gz.file, &err);
      fail(path, fmt::format("read error ({})", msg ? msg : "unknown zlib error"));
    }
    if (got == 0) break;
    total += static_cast<uint64_t>(got);
  }
  return total;
}

/// The stored data after `read` bytes: count what is left (to report the real size).
uint64_t count_rest(GzFile& gz, const std::string& path) {
  std::array<unsigned char, 1 << 16> scratch{};
  uint64_t rest = 0;
  while (true) {
    const uint64_t got = read_bytes(gz, path, scratch.data(), scratch.size());
    rest += got;
    if (got < scratch.size()) return rest;
  }
}

std::string find_file(const std::string& root, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path gz = fs::path(root) / (name + ".gz");
  const fs::path plain = fs::path(root) / name;
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz.string();
  if (fs::is_regular_file(plain, ec)) return plain.string();
  for (const auto& path : {gz, plain})
    if (fs::is_directory(path, ec))
      throw MisconfigurationException(fmt::format(
          "MNIST: '{}' is a directory; expected the IDX file of that name (gzip-compressed or not)", path.string()));
  if (!fs::is_directory(root, ec))
    throw MisconfigurationException(fmt::format(
        "MNIST: root='{}' is {}; expected the folder of the dataset's IDX files", root,
        fs::exists(root, ec) ? "not a directory" : "missing"));
  throw MisconfigurationException(
      fmt::format("MNIST: file not found: neither '{}' nor '{}' exists (root='{}'); expected the "
                  "IDX files of the dataset, gzip-compressed or not",
                  gz.string(), plain.string(), root));
}

}  // namespace

torch::Tensor read_idx_file(const std::string& path) {
  {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(path, "no such file");
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, expected a file");
  }
  GzFile gz;
  gz.file = gzopen(path.c_str(), "rb");
  if (!gz.file) fail(path, "cannot be opened for reading");
  gzbuffer(gz.file, 1 << 17);

  std::array<unsigned char, 4> magic{};
  uint64_t got = read_bytes(gz, path, magic.data(), 4);
  if (got < 4)
    fail(path, fmt::format("truncated: expected at least 4 bytes (the magic number), got {}", got));
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, fmt::format("bad magic number 0x{:02x}{:02x}{:02x}{:02x}: the first two bytes must "
                           "be zero (not an IDX file)",
                           magic[0], magic[1], magic[2], magic[3]));
  if (magic[2] != 0x08)
    fail(path, fmt::format("unsupported data type 0x{:02x} in the magic number; expected 0x08 "
                           "(unsigned byte)",
                           magic[2]));
  const int ndim = magic[3];
  if (ndim < 1)
    fail(path, "bad magic number: 0 dimensions; expected at least 1");

  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndim);
  std::vector<unsigned char> dims_raw(4 * static_cast<size_t>(ndim));
  got += read_bytes(gz, path, dims_raw.data(), dims_raw.size());
  if (got < header_bytes)
    fail(path, fmt::format("truncated: expected at least {} bytes (the header of a {}-d IDX file), "
                           "got {}",
                           header_bytes, ndim, got));
  std::vector<int64_t> shape(static_cast<size_t>(ndim));
  uint64_t data_bytes = 1;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* p = &dims_raw[4 * static_cast<size_t>(d)];
    const uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    if (v > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
      fail(path, fmt::format("bad size {} for dimension {}; expected a non-negative 32-bit integer",
                             v, d));
    shape[static_cast<size_t>(d)] = v;
    if (v != 0 && data_bytes > (uint64_t{1} << 40) / v)
      fail(path, fmt::format("dimensions too large (dimension {} is {})", d, v));
    data_bytes *= v;
  }
  const uint64_t expected = header_bytes + data_bytes;

  // The header's sizes are only the file's claim: memory grows with the data actually there, so
  // that a corrupt header cannot make a 20-byte file allocate a terabyte.
  auto bytes = std::make_unique<std::vector<uint8_t>>();
  constexpr uint64_t kChunk = uint64_t{16} << 20;
  while (bytes->size() < data_bytes) {
    const uint64_t before = bytes->size();
    const uint64_t want = std::min(kChunk, data_bytes - before);
    bytes->resize(before + want);
    const uint64_t read = read_bytes(gz, path, bytes->data() + before, want);
    got += read;
    if (read < want) break;
  }
  if (got < expected)
    fail(path, fmt::format("truncated: expected {} bytes, got {}", expected, got));
  if (data_bytes == 0) return torch::empty(shape, torch::kUInt8);  // from_blob would never free `bytes`
  std::vector<uint8_t>* owned = bytes.release();
  auto out = torch::from_blob(owned->data(), shape, [owned](void*) { delete owned; }, torch::kUInt8);
  const uint64_t extra = count_rest(gz, path);
  if (extra > 0)
    fail(path, fmt::format("malformed: expected {} bytes for the shape in the header, got {}",
                           expected, expected + extra));
  int err = Z_OK;
  gzerror(gz.file, &err);
  if (err == Z_BUF_ERROR)
    fail(path, "truncated: the gzip stream ends prematurely (the file is incomplete)");
  if (err != Z_OK) {
    const char* msg = gzerror(gz.file, &err);
    fail(path, fmt::format("read error ({})", msg ? msg : "unknown zlib error"));
  }
  return out;
}

MNIST::MNIST(std::string root, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_file(root, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(root, prefix + "-labels-idx1-ubyte");
  auto images = read_idx_file(images_path);
  auto labels = read_idx_file(labels_path);
  if (images.dim() != 3)
    throw MisconfigurationException(fmt::format(
        "IDX file '{}': expected a 3-d image file [N, rows, cols], got {} dimension(s)",
        images_path, images.dim()));
  if (labels.dim() != 1)
    throw MisconfigurationException(fmt::format(
        "IDX file '{}': expected a 1-d label file [N], got {} dimension(s)", labels_path,
        labels.dim()));
  if (images.size(0) != labels.size(0))
    throw MisconfigurationException(fmt::format(
        "MNIST: '{}' has {} images but '{}' has {} labels; expected the same count", images_path,
        images.size(0), labels_path, labels.size(0)));
  // A label beyond the classes would surface only as an IndexError deep inside the loss.
  if (auto bad = (labels >= kNumClasses).nonzero(); bad.numel() > 0) {
    const auto index = bad[0].item<int64_t>();
    throw MisconfigurationException(fmt::format(
        "IDX file '{}': label {} at index {} is out of range; expected labels 0..{} ({} classes){}", labels_path,
        labels[index].item<int64_t>(), index, kNumClasses - 1, kNumClasses,
        bad.size(0) > 1 ? fmt::format(" ({} labels are out of range)", bad.size(0)) : ""));
  }
  images_ = images.unsqueeze(1).to(torch::kFloat32).div_(255.0);
  labels_ = labels.to(torch::kInt64);
}

size_t MNIST::size() const { return static_cast<size_t>(labels_.size(0)); }

Batch MNIST::get(size_t index) const {
  if (index >= size())
    throw std::out_of_range(
        fmt::format("MNIST: index {} is out of range for a dataset of size {}", index, size()));
  const auto i = static_cast<int64_t>(index);
  return Batch({{"image", images_[i]}, {"label", labels_[i]}});
}

Batch MNIST::get_batch(const std::vector<size_t>& indices) const {
  const auto idx = detail::index_tensor(indices, size(), "MNIST");
  return Batch({{"image", images_.index_select(0, idx)}, {"label", labels_.index_select(0, idx)}});
}

const std::vector<std::string>& FashionMNIST::classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace lightning
