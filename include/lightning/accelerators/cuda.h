#pragma once
/// CUDAAccelerator: NVIDIA GPUs through LibTorch's CUDA backend (`accelerator="gpu"` or "cuda").
#include "lightning/accelerators/accelerator.h"

namespace lightning::accelerators {

class CUDAAccelerator : public Accelerator {
 public:
  /// Makes `device` the current CUDA device of this process.
  void setup_device(const torch::Device& device) override;
  /// The caching allocator's figures under `torch.cuda.memory_stats`' names
  /// (`allocated_bytes.all.current`, `reserved_bytes.large_pool.peak`, `num_ooms`, ...); empty
  /// when built against a LibTorch without CUDA.
  std::map<std::string, double> get_device_stats(const torch::Device& device) const override;
  /// Lightning's `_parse_gpu_ids`: an int N is the first N GPUs, -1 (or "-1") all of them, a
  /// string of one number a count ("3"), a list or a comma string ("0,2", "1,") indices; each
  /// index must exist and appear once.
  std::vector<int64_t> parse_devices(const Devices& devices) const override;
  std::vector<torch::Device> get_parallel_devices(const Devices& devices) const override;
  int64_t auto_device_count() const override;
  bool is_available() const override;
  std::string name() const override { return "cuda"; }
};

}  // namespace lightning::accelerators
