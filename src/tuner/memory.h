#pragma once
// Out-of-memory errors as the batch-size scaler sees them (Lightning's `utilities/memory.py`), and
// the CPU memory budget of one trial.
#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>

namespace lightning::tuner::detail {

/// Lightning's `is_oom_error`: a LibTorch OutOfMemoryError (CUDA's caching allocator, or the
/// budget below), or an error whose message is CUDA's, cuDNN's "not supported" or the CPU
/// allocator's out-of-memory message.
bool is_oom_error(const std::exception& error);

/// Lightning's `garbage_collection_cuda`: returns LibTorch's cached CUDA memory to the driver when
/// a CUDA LibTorch is loaded (found at run time, so CPU builds link without CUDA); else nothing.
void empty_cuda_cache();

/// While alive, the tensors LibTorch allocates on the CPU are counted; an allocation that would
/// take the bytes allocated since construction (and still alive) above `max_bytes` fails with a
/// c10::OutOfMemoryError, as a real out-of-memory error would. Memory allocated before is not
/// counted, nor freed memory of it. One budget at a time.
class CPUMemoryBudget {
 public:
  explicit CPUMemoryBudget(int64_t max_bytes);
  ~CPUMemoryBudget();
  CPUMemoryBudget(const CPUMemoryBudget&) = delete;
  CPUMemoryBudget& operator=(const CPUMemoryBudget&) = delete;
  /// The most bytes alive at once so far.
  int64_t peak_bytes() const;

 private:
  uint8_t priority_ = 0;
};

}  // namespace lightning::tuner::detail
