#pragma once
/// Map-style and iterable datasets.
#include "lightning/core/batch.h"

#include <cstddef>
#include <optional>
#include <vector>

namespace lightning {

/// A dataset with a length: `get(i)` returns sample `i` as an uncollated `Batch`.
/// `get` and `get_batch` are called from DataLoader worker threads and must be thread-safe.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual Batch get(size_t index) const = 0;
  /// The collated batch of `indices`. The default calls `get` for each index and stacks the
  /// fields (default_collate); tensor-backed datasets override it with one `index_select`
  /// per field, which is ~15x cheaper for small rows.
  virtual Batch get_batch(const std::vector<size_t>& indices) const;
};

/// A stream of samples with no length (PyTorch's IterableDataset).
/// One pass is `reset()` followed by `next()` until it returns std::nullopt.
class IterableDataset {
 public:
  virtual ~IterableDataset() = default;
  /// Starts a new pass over the data.
  virtual void reset() = 0;
  /// The next sample, or std::nullopt at the end of the pass.
  virtual std::optional<Batch> next() = 0;
};

/// A dataset over tensors that share their first dimension: sample i is `{t[i] for t}`.
class TensorDataset : public Dataset {
 public:
  /// Throws MisconfigurationException if the tensors' first dimensions differ or there are none.
  explicit TensorDataset(std::vector<torch::Tensor> tensors);
  TensorDataset(std::initializer_list<torch::Tensor> tensors)
      : TensorDataset(std::vector<torch::Tensor>(tensors)) {}
  size_t size() const override;
  Batch get(size_t index) const override;
  Batch get_batch(const std::vector<size_t>& indices) const override;
  const std::vector<torch::Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<torch::Tensor> tensors_;
};

}  // namespace lightning
