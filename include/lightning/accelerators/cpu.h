#pragma once
/// CPUAccelerator: training processes on the CPU, with the host tuned for tensor work by default.
#include "lightning/accelerators/accelerator.h"

namespace lightning::accelerators {

/// Lightning's `get_cpu_stats` (psutil's figures, from /proc): `cpu_vm_percent`, `cpu_percent`
/// (all CPUs' busy share since the previous call, as psutil's without an interval) and
/// `cpu_swap_percent`. DeviceStatsMonitor(cpu_stats=true) adds them to a GPU's stats.
std::map<std::string, double> get_cpu_stats();

class CPUAccelerator : public Accelerator {
 public:
  struct Options {
    /// Keeps freed tensor buffers in the process instead of handing them back to the OS after
    /// every step (glibc's `mallopt`, as `MALLOC_MMAP_THRESHOLD_=134217728
    /// MALLOC_TRIM_THRESHOLD_=1073741824` would): the next step's tensors then reuse them rather
    /// than fault fresh pages in. Process-wide and kept once set; left alone when any of
    /// glibc's MALLOC_* tuning variables is in the environment.
    bool tune_host_allocator = true;
    /// With one intra-op thread (`at::set_num_threads`), OpenBLAS gets the same count, so that
    /// no second BLAS thread spins; `OPENBLAS_NUM_THREADS` in the environment wins.
    bool match_blas_threads = true;
  };
  CPUAccelerator() : CPUAccelerator(Options{}) {}
  explicit CPUAccelerator(Options options) : options_(options) {}

  void setup_device(const torch::Device& device) override;
  /// get_cpu_stats().
  std::map<std::string, double> get_device_stats(const torch::Device& device) const override;
  /// An int > 0 or its string is that many processes; "auto" and -1 one (Lightning accepts
  /// neither -1 nor lists on the CPU; lists are refused here too).
  std::vector<int64_t> parse_devices(const Devices& devices) const override;
  std::vector<torch::Device> get_parallel_devices(const Devices& devices) const override;
  int64_t auto_device_count() const override { return 1; }
  bool is_available() const override { return true; }
  std::string name() const override { return "cpu"; }
  const Options& options() const { return options_; }

 private:
  Options options_;
};

}  // namespace lightning::accelerators
