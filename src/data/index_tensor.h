#pragma once
// Internal helper shared by the tensor-backed datasets (not installed).
#include <torch/types.h>

#include <cstddef>
#include <vector>

namespace lightning::detail {

/// An int64 CPU index tensor for `index_select`; throws std::out_of_range naming `who`, the
/// index and `size` if an index is out of range.
torch::Tensor index_tensor(const std::vector<size_t>& indices, size_t size, const char* who);

/// `source.index_select(0, index)`, moving `index` to `source`'s device if needed.
inline torch::Tensor select_rows(const torch::Tensor& source, const torch::Tensor& index) {
  return source.index_select(0, source.device() == index.device() ? index : index.to(source.device()));
}

}  // namespace lightning::detail
