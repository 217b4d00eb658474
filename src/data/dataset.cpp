#include "lightning/data/dataset.h"

#include "lightning/data/collate.h"
#include "index_tensor.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>
#include <torch/types.h>

#include <stdexcept>

namespace lightning {

Batch Dataset::get_batch(const std::vector<size_t>& indices) const {
  std::vector<Batch> samples;
  samples.reserve(indices.size());
  for (size_t i : indices) samples.push_back(get(i));
  return default_collate(samples);
}

namespace detail {

torch::Tensor index_tensor(const std::vector<size_t>& indices, size_t size, const char* who) {
  auto out = torch::empty({static_cast<int64_t>(indices.size())}, torch::kLong);
  auto* data = out.data_ptr<int64_t>();
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] >= size)
      throw std::out_of_range(
          fmt::format("{}: index {} is out of range for a dataset of size {}", who, indices[k], size));
    data[k] = static_cast<int64_t>(indices[k]);
  }
  return out;
}

}  // namespace detail

TensorDataset::TensorDataset(std::vector<torch::Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty())
    throw MisconfigurationException(
        "TensorDataset: got 0 tensors; expected at least one tensor");
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    if (!t.defined())
      throw MisconfigurationException(
          fmt::format("TensorDataset: tensor {} is undefined; expected a defined tensor", i));
    if (t.dim() == 0)
      throw MisconfigurationException(fmt::format(
          "TensorDataset: tensor {} is a 0-dim scalar; expected tensors with a first (sample) "
          "dimension",
          i));
    if (t.size(0) != tensors_[0].size(0))
      throw MisconfigurationException(fmt::format(
          "TensorDataset: size mismatch between tensors: tensor {} has {} rows but tensor 0 has "
          "{}; expected the same first dimension for every tensor",
          i, t.size(0), tensors_[0].size(0)));
  }
}

size_t TensorDataset::size() const { return static_cast<size_t>(tensors_[0].size(0)); }

Batch TensorDataset::get(size_t index) const {
  if (index >= size())
    throw std::out_of_range(fmt::format(
        "TensorDataset: index {} is out of range for a dataset of size {}", index, size()));
  std::vector<torch::Tensor> fields;
  fields.reserve(tensors_.size());
  for (const auto& t : tensors_) fields.push_back(t[static_cast<int64_t>(index)]);
  return Batch(std::move(fields));
}

Batch TensorDataset::get_batch(const std::vector<size_t>& indices) const {
  const auto idx = detail::index_tensor(indices, size(), "TensorDataset");
  std::vector<torch::Tensor> fields;
  fields.reserve(tensors_.size());
  for (const auto& t : tensors_) fields.push_back(detail::select_rows(t, idx));
  return Batch(std::move(fields));
}

}  // namespace lightning
