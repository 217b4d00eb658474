#pragma once
/// Adapter from a `torch::data` dataset (C++ frontend) to a lightning Dataset.
#include "lightning/data/dataset.h"

#include <torch/data/datasets/base.h>
#include <torch/data/example.h>

#include <memory>
#include <utility>

namespace lightning {

/// Wraps a map-style `torch::data::datasets::Dataset` whose examples are `Example<>`
/// (data, target) or `TensorExample`. Samples become `Batch{{"data", x}, {"target", y}}`
/// (or `{"data", x}`). The wrapped dataset's `get` must be thread-safe when num_workers > 0.
template <typename TorchDataset>
class TorchDatasetAdapter : public Dataset {
 public:
  explicit TorchDatasetAdapter(TorchDataset dataset) : dataset_(std::move(dataset)) {}
  size_t size() const override { return *dataset_.size(); }
  Batch get(size_t index) const override {
    auto example = const_cast<TorchDataset&>(dataset_).get(index);
    if constexpr (requires { example.target; })
      return Batch({{"data", example.data}, {"target", example.target}});
    else
      return Batch({{"data", example.data}});
  }

 private:
  TorchDataset dataset_;
};

/// `lightning::from_torch_dataset(torch::data::datasets::MNIST(root))`.
template <typename TorchDataset>
std::shared_ptr<Dataset> from_torch_dataset(TorchDataset dataset) {
  return std::make_shared<TorchDatasetAdapter<TorchDataset>>(std::move(dataset));
}

}  // namespace lightning
