#pragma once
/// The differences between LibTorch versions we build against (Debian's 1.13, PyTorch 2.x).
#include <ATen/autocast_mode.h>
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

/// Autocast's thread-local switch and dtype for CUDA or CPU: per-device functions in 1.x,
/// functions taking the device type since 2.4 (the old ones are deprecated there).
#if TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 4)
inline bool autocast_enabled(bool cuda) { return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
inline at::ScalarType autocast_dtype(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void set_autocast(bool cuda, bool enabled, at::ScalarType dtype) {
  if (cuda) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
#else
inline bool autocast_enabled(bool cuda) { return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU); }
inline at::ScalarType autocast_dtype(bool cuda) { return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU); }
inline void set_autocast(bool cuda, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
}
#endif

}  // namespace lightning::compat
