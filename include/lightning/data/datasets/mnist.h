#pragma once
/// MNIST and Fashion-MNIST from IDX files (gzip-compressed or plain).
#include "lightning/data/dataset.h"

#include <string>

namespace lightning {

/// Reads `{train,t10k}-images-idx3-ubyte[.gz]` and `{train,t10k}-labels-idx1-ubyte[.gz]` from
/// `root`. Samples are `{image: float [1, 28, 28] in [0, 1], label: int64 scalar}` with field
/// names "image" and "label". A missing, truncated or malformed file throws
/// MisconfigurationException naming the file and the problem.
class MNIST : public Dataset {
 public:
  static constexpr const char* kDefaultRoot = "/usr/share/datasets/mnist";
  /// Labels are checked against it when the files are read.
  static constexpr int64_t kNumClasses = 10;
  explicit MNIST(std::string root = kDefaultRoot, bool train = true);
  size_t size() const override;
  Batch get(size_t index) const override;
  Batch get_batch(const std::vector<size_t>& indices) const override;
  /// All images, float [N, 1, 28, 28] in [0, 1].
  const torch::Tensor& images() const { return images_; }
  /// All labels, int64 [N].
  const torch::Tensor& labels() const { return labels_; }

 private:
  torch::Tensor images_;
  torch::Tensor labels_;
};

/// Fashion-MNIST: the same files and layout; by default Debian's `dataset-fashion-mnist`.
class FashionMNIST : public MNIST {
 public:
  static constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  explicit FashionMNIST(std::string root = kDefaultRoot, bool train = true)
      : MNIST(std::move(root), train) {}
  /// The ten class names, in label order.
  static const std::vector<std::string>& classes();
};

/// Reads one IDX file (gzip-compressed or plain) into a uint8 tensor with the file's shape.
/// Throws MisconfigurationException naming `path` when it is missing, truncated or malformed.
torch::Tensor read_idx_file(const std::string& path);

}  // namespace lightning
