#include "helpers/errors.h"
#include "helpers/temp_dir.h"
#include "lightning/data/datasets/mnist.h"

#include "lightning/data/dataloader.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <torch/types.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

// C++20 designated initializers that leave members at their defaults (GCC warns under -Wextra).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace L = lightning;
namespace fs = std::filesystem;

using lightning::testing::contains;
using lightning::testing::TempDir;
using lightning::testing::error_of;

namespace {

/// IDX bytes: magic 0x00 0x00 0x08 ndim, big-endian dims, then the data.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string out{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((d >> shift) & 0xFF));
  out.append(data.begin(), data.end());
  return out;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

/// n images where pixel (r, c) of image i is (i * 31 + r + c) % 256; label i is i % 10.
std::vector<uint8_t> image_data(uint32_t n) {
  std::vector<uint8_t> data;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < 28; ++r)
      for (uint32_t c = 0; c < 28; ++c) data.push_back(static_cast<uint8_t>((i * 31 + r + c) % 256));
  return data;
}
std::vector<uint8_t> label_data(uint32_t n) {
  std::vector<uint8_t> data;
  for (uint32_t i = 0; i < n; ++i) data.push_back(static_cast<uint8_t>(i % 10));
  return data;
}

void write_split(const TempDir& dir, const std::string& prefix, uint32_t n, bool gzip_images,
                 bool gzip_labels) {
  const auto images = idx_bytes({n, 28, 28}, image_data(n));
  const auto labels = idx_bytes({n}, label_data(n));
  const std::string img = dir.file(prefix + "-images-idx3-ubyte");
  const std::string lab = dir.file(prefix + "-labels-idx1-ubyte");
  if (gzip_images) write_gzip(img + ".gz", images); else write_plain(img, images);
  if (gzip_labels) write_gzip(lab + ".gz", labels); else write_plain(lab, labels);
}

void check_dataset(const L::MNIST& ds, uint32_t n) {
  ASSERT_EQ(ds.size(), n);
  EXPECT_EQ(ds.images().sizes(), (std::vector<int64_t>{n, 1, 28, 28}));
  EXPECT_EQ(ds.images().scalar_type(), torch::kFloat32);
  EXPECT_EQ(ds.labels().sizes(), (std::vector<int64_t>{n}));
  EXPECT_EQ(ds.labels().scalar_type(), torch::kInt64);
  EXPECT_GE(ds.images().min().item<float>(), 0.0f);
  EXPECT_LE(ds.images().max().item<float>(), 1.0f);
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(ds.labels()[i].item<int64_t>(), i % 10);
    EXPECT_FLOAT_EQ(ds.images()[i][0][3][5].item<float>(), static_cast<float>((i * 31 + 8) % 256) / 255.0f);
  }
  auto s = ds.get(n - 1);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"image", "label"}));
  EXPECT_EQ(s["image"].sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(s["label"].dim(), 0);
  EXPECT_EQ(s["label"].item<int64_t>(), (n - 1) % 10);
  auto b = ds.get_batch({2, 0});
  EXPECT_EQ(b.names(), (std::vector<std::string>{"image", "label"}));
  EXPECT_TRUE(b["image"][0].equal(ds.images()[2]));
  EXPECT_TRUE(b["label"].equal(torch::tensor({2, 0}, torch::kLong)));
  EXPECT_THROW(ds.get(n), std::out_of_range);
}

}  // namespace

TEST(MNISTTest, ReadsPlainIdxFiles) {
  TempDir dir;
  write_split(dir, "train", 12, false, false);
  write_split(dir, "t10k", 3, false, false);
  check_dataset(L::MNIST(dir.path(), /*train=*/true), 12);
  check_dataset(L::MNIST(dir.path(), /*train=*/false), 3);
}

TEST(MNISTTest, ReadsGzipIdxFilesAndMixed) {
  TempDir dir;
  write_split(dir, "train", 7, true, true);
  write_split(dir, "t10k", 5, true, false);
  check_dataset(L::MNIST(dir.path(), true), 7);
  check_dataset(L::FashionMNIST(dir.path(), false), 5);
}

TEST(MNISTTest, GzipIsPreferredOverPlain) {
  TempDir dir;
  write_split(dir, "t10k", 4, true, true);
  write_split(dir, "t10k", 9, false, false);  // a different, plain copy
  EXPECT_EQ(L::MNIST(dir.path(), false).size(), 4u);
}

TEST(MNISTTest, ReadIdxFileShapeAndBytes) {
  TempDir dir;
  const auto path = dir.file("small-idx2");
  write_plain(path, idx_bytes({2, 3}, {1, 2, 3, 4, 5, 255}));
  auto t = L::read_idx_file(path);
  EXPECT_EQ(t.scalar_type(), torch::kUInt8);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t[1][2].item<int>(), 255);
  EXPECT_EQ(t.sum().item<int64_t>(), 270);
}

TEST(MNISTTest, TruncatedFileErrorNamesFileAndSizes) {
  TempDir dir;
  write_split(dir, "train", 3, false, false);
  const auto img = dir.file("train-images-idx3-ubyte");
  // Header claims 5 images; only 2 are there: 16 + 2*784 = 1584 bytes of 16 + 5*784 = 3936.
  write_plain(img, idx_bytes({5, 28, 28}, image_data(2)));
  auto msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, img)) << msg;
  EXPECT_TRUE(contains(msg, "truncated: expected 3936 bytes, got 1584")) << msg;

  // Gzip-compressed and truncated in the decompressed data.
  const auto gz = dir.file("cut.gz");
  write_gzip(gz, idx_bytes({5, 28, 28}, image_data(2)));
  msg = error_of([&] { L::read_idx_file(gz); });
  EXPECT_TRUE(contains(msg, gz)) << msg;
  EXPECT_TRUE(contains(msg, "truncated: expected 3936 bytes, got 1584")) << msg;

  // A gzip file cut in the middle of its compressed stream.
  const auto full_gz = dir.file("full.gz");
  write_gzip(full_gz, idx_bytes({5, 28, 28}, image_data(5)));
  std::ifstream in(full_gz, std::ios::binary);
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = dir.file("cut-stream.gz");
  write_plain(cut, compressed.substr(0, compressed.size() / 2));
  msg = error_of([&] { L::read_idx_file(cut); });
  EXPECT_TRUE(contains(msg, cut)) << msg;
  EXPECT_TRUE(contains(msg, "truncated")) << msg;

  // Truncated inside the header.
  const auto tiny = dir.file("tiny");
  write_plain(tiny, std::string("\0\0\x08\x03\0\0", 6));
  msg = error_of([&] { L::read_idx_file(tiny); });
  EXPECT_TRUE(contains(msg, tiny)) << msg;
  EXPECT_TRUE(contains(msg, "truncated: expected at least 16 bytes")) << msg;
}

TEST(MNISTTest, MalformedFilesAreRejected) {
  TempDir dir;
  const auto bad_magic = dir.file("bad-magic");
  write_plain(bad_magic, std::string("\x12\x34\x08\x01\0\0\0\0", 8));
  auto msg = error_of([&] { L::read_idx_file(bad_magic); });
  EXPECT_TRUE(contains(msg, bad_magic)) << msg;
  EXPECT_TRUE(contains(msg, "magic")) << msg;

  const auto bad_type = dir.file("float-idx");
  write_plain(bad_type, std::string("\0\0\x0d\x01\0\0\0\x01\0\0\0\0", 12));
  msg = error_of([&] { L::read_idx_file(bad_type); });
  EXPECT_TRUE(contains(msg, "unsupported data type 0x0d")) << msg;

  const auto extra = dir.file("extra");
  write_plain(extra, idx_bytes({2}, {1, 2, 3}));
  msg = error_of([&] { L::read_idx_file(extra); });
  EXPECT_TRUE(contains(msg, extra)) << msg;
  EXPECT_TRUE(contains(msg, "expected 10 bytes")) << msg;

  const auto empty = dir.file("empty");
  write_plain(empty, "");
  msg = error_of([&] { L::read_idx_file(empty); });
  EXPECT_TRUE(contains(msg, "truncated")) << msg;

  // Image and label counts disagree.
  write_split(dir, "train", 4, false, false);
  write_plain(dir.file("train-labels-idx1-ubyte"), idx_bytes({3}, label_data(3)));
  msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, "4 images")) << msg;
  EXPECT_TRUE(contains(msg, "3 labels")) << msg;

  // Label file where the image file should be (wrong number of dimensions).
  write_plain(dir.file("train-images-idx3-ubyte"), idx_bytes({4}, label_data(4)));
  msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, "3-d")) << msg;
}

TEST(MNISTTest, LabelOutOfRangeNamesFileAndIndex) {
  TempDir dir;
  write_split(dir, "train", 6, false, false);
  auto labels = label_data(6);
  labels[4] = 200;  // Fashion-MNIST has 10 classes
  labels[5] = 10;
  write_plain(dir.file("train-labels-idx1-ubyte"), idx_bytes({6}, labels));
  auto msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, dir.file("train-labels-idx1-ubyte"))) << msg;
  EXPECT_TRUE(contains(msg, "label 200 at index 4")) << msg;
  EXPECT_TRUE(contains(msg, "0..9")) << msg;
  EXPECT_TRUE(contains(msg, "2 labels are out of range")) << msg;
}

TEST(MNISTTest, DirectoryInPlaceOfAFileIsNamed) {
  TempDir dir;
  write_split(dir, "train", 2, false, false);
  std::remove(dir.file("train-labels-idx1-ubyte").c_str());
  ASSERT_EQ(::mkdir(dir.file("train-labels-idx1-ubyte").c_str(), 0700), 0);
  auto msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, dir.file("train-labels-idx1-ubyte") + "' is a directory")) << msg;
  msg = error_of([&] { L::MNIST(dir.file("train-images-idx3-ubyte"), true); });  // root is a file
  EXPECT_TRUE(contains(msg, "not a directory")) << msg;
}

TEST(MNISTTest, MissingFileErrorNamesBothPaths) {
  TempDir dir;
  auto msg = error_of([&] { L::MNIST(dir.path(), true); });
  EXPECT_TRUE(contains(msg, dir.file("train-images-idx3-ubyte.gz"))) << msg;
  EXPECT_TRUE(contains(msg, dir.file("train-images-idx3-ubyte") + "'")) << msg;
  write_split(dir, "t10k", 2, false, false);
  std::remove(dir.file("t10k-labels-idx1-ubyte").c_str());
  msg = error_of([&] { L::MNIST(dir.path(), false); });
  EXPECT_TRUE(contains(msg, dir.file("t10k-labels-idx1-ubyte.gz"))) << msg;
  const auto nowhere = dir.file("does-not-exist");
  msg = error_of([&] { L::read_idx_file(nowhere); });
  EXPECT_TRUE(contains(msg, nowhere)) << msg;
  EXPECT_TRUE(contains(msg, "no such file")) << msg;
}

TEST(MNISTTest, WorksWithDataLoader) {
  TempDir dir;
  write_split(dir, "train", 10, true, true);
  auto ds = std::make_shared<L::MNIST>(dir.path(), true);
  L::DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .num_workers = 2, .seed = 0});
  int64_t total = 0;
  for (auto& b : loader) {
    EXPECT_EQ(b["image"].sizes().slice(1), (std::vector<int64_t>{1, 28, 28}));
    total += b.batch_size();
  }
  EXPECT_EQ(total, 10);
}

TEST(MNISTTest, FashionMNISTClasses) {
  const auto& c = L::FashionMNIST::classes();
  ASSERT_EQ(c.size(), 10u);
  EXPECT_EQ(c.front(), "T-shirt/top");
  EXPECT_EQ(c[5], "Sandal");
  EXPECT_EQ(c.back(), "Ankle boot");
}

TEST(MNISTTest, FashionMNISTFromSystemDataset) {
  if (!fs::exists(L::FashionMNIST::kDefaultRoot))
    GTEST_SKIP() << L::FashionMNIST::kDefaultRoot << " is not installed";
  L::FashionMNIST test(L::FashionMNIST::kDefaultRoot, /*train=*/false);
  ASSERT_EQ(test.size(), 10000u);
  EXPECT_EQ(test.labels().min().item<int64_t>(), 0);
  EXPECT_EQ(test.labels().max().item<int64_t>(), 9);
  EXPECT_EQ(test.images().sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_GE(test.images().min().item<float>(), 0.0f);
  EXPECT_LE(test.images().max().item<float>(), 1.0f);
  // Every class is present, 1000 each in the test split.
  EXPECT_TRUE(torch::bincount(test.labels()).equal(torch::full({10}, 1000, torch::kLong)));
}
