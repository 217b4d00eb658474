#pragma once
/// The differences between LibTorch versions we build against (Debian's 1.13, PyTorch 2.x).
#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <sstream>
#include <string>

namespace lightning::compat {

/// The key of a parameter in `torch::optim::Optimizer::state()`: the TensorImpl's address as a
/// string in LibTorch 1.x, the address itself in 2.x.
#if TORCH_VERSION_MAJOR < 2
inline std::string optimizer_state_key(const at::Tensor& param) {
  std::ostringstream key;
  key << param.unsafeGetTensorImpl();
  return key.str();
}
#else
inline void* optimizer_state_key(const at::Tensor& param) { return param.unsafeGetTensorImpl(); }
#endif

}  // namespace lightning::compat
