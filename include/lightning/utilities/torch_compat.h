#pragma once
/// The differences between LibTorch versions we build against (Debian's 1.13, PyTorch 2.x).
#include <torch/version.h>
#include <ATen/autocast_mode.h>
#if TORCH_VERSION_MAJOR < 2
#include <ATen/ops/_scaled_dot_product_attention.h>
#else
#include <ATen/ops/scaled_dot_product_attention.h>
#endif
#include <ATen/core/Tensor.h>
#include <c10/core/Allocator.h>

#include <cstddef>
#include <cstring>
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

/// Causal scaled dot-product attention over (batch, heads, tokens, head_dim): a private op
/// returning (output, weights) in 1.13, public with fused kernels (flash, memory-efficient) in 2.x.
inline at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if TORCH_VERSION_MAJOR < 2
  return std::get<0>(at::_scaled_dot_product_attention(q, k, v, {}, 0.0, false, true));
#else
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, true);
#endif
}

/// What LibTorch's CPU allocator says when it cannot allocate (PyTorch Lightning's
/// `is_out_of_cpu_memory` looks for 1.x's wording; 2.x says "not enough memory"). CUDA's caching
/// allocator throws c10::OutOfMemoryError in both (1.13 introduced it for CUDA's message).
#if TORCH_VERSION_MAJOR < 2
inline constexpr const char* kCpuOutOfMemoryMessage = "DefaultCPUAllocator: can't allocate memory";
#else
inline constexpr const char* kCpuOutOfMemoryMessage = "DefaultCPUAllocator: not enough memory";
#endif

/// c10::Allocator's interface changed in 2.3: `allocate` lost its `const` and `copy_data` became
/// a pure virtual. An allocator derives from `AllocatorBase` and implements `allocate_bytes`; the
/// overrides that version needs are chosen from the interface itself, not from version numbers.
template <typename A>
concept AllocateIsConst = requires(const A& a, size_t n) { a.allocate(n); };
template <typename A>
concept HasCopyData = requires(const A& a) { a.copy_data(nullptr, nullptr, size_t{0}); };

template <typename Base, bool = HasCopyData<Base>>
struct AllocatorCopyData : Base {};
template <typename Base>
struct AllocatorCopyData<Base, true> : Base {
  void copy_data(void* dest, const void* src, size_t count) const override { std::memcpy(dest, src, count); }
};

template <typename Base, bool = AllocateIsConst<Base>>
struct AllocatorAdapter;
template <typename Base>
struct AllocatorAdapter<Base, true> : AllocatorCopyData<Base> {
  c10::DataPtr allocate(size_t n) const override { return allocate_bytes(n); }
  virtual c10::DataPtr allocate_bytes(size_t n) const = 0;
};
template <typename Base>
struct AllocatorAdapter<Base, false> : AllocatorCopyData<Base> {
  c10::DataPtr allocate(size_t n) override { return allocate_bytes(n); }
  virtual c10::DataPtr allocate_bytes(size_t n) const = 0;
};
using AllocatorBase = AllocatorAdapter<c10::Allocator>;

}  // namespace lightning::compat
