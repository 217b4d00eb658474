#pragma once
// Debian's libtorch-dev 1.13 ships c10d's reducer.hpp but not this header, which reducer.hpp
// includes. The Reducer holds only a shared_ptr to a distributed-autograd context (and an atomic
// pointer to one) and calls it from libtorch itself, so a declaration keeps its layout as built.
// CMake puts this folder on the include path only when LibTorch lacks the real header.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch::distributed::autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace torch::distributed::autograd
