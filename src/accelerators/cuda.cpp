#include "lightning/accelerators/cuda.h"

#include "lightning/utilities/errors.h"
#include "utilities/numbers.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>
#if LIGHTNING_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <numeric>
#include <set>

namespace lightning::accelerators {

void CUDAAccelerator::setup_device(const torch::Device& device) {
  if (!device.is_cuda())
    throw MisconfigurationException(fmt::format(
        "CUDAAccelerator: the device should be a GPU, got {}; accepted: a CUDA device such as cuda:0", device.str()));
  // Through the device-guard interface: it needs no CUDA headers, so this builds on CPU-only LibTorch.
  c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(device);
}

std::map<std::string, double> CUDAAccelerator::get_device_stats(const torch::Device& device) const {
  std::map<std::string, double> stats;
#if LIGHTNING_WITH_CUDA
  // `torch.cuda.memory_stats`'s flat names: <statistic>.<pool>.<current|peak|allocated|freed>.
  const auto index = device.has_index()
                         ? device.index()
                         : c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getDevice().index();
  const auto all = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const auto add = [&](const char* name, const auto& per_pool) {
    constexpr const char* pools[] = {"all", "small_pool", "large_pool"};
    for (size_t p = 0; p < 3; ++p) {
      const auto& s = per_pool[p];
      for (const auto& [kind, value] : {std::pair{"current", s.current}, std::pair{"peak", s.peak},
                                        std::pair{"allocated", s.allocated}, std::pair{"freed", s.freed}})
        stats[fmt::format("{}.{}.{}", name, pools[p], kind)] = static_cast<double>(value);
    }
  };
  add("allocation", all.allocation);
  add("segment", all.segment);
  add("active", all.active);
  add("inactive_split", all.inactive_split);
  add("allocated_bytes", all.allocated_bytes);
  add("reserved_bytes", all.reserved_bytes);
  add("active_bytes", all.active_bytes);
  add("inactive_split_bytes", all.inactive_split_bytes);
  stats["num_alloc_retries"] = static_cast<double>(all.num_alloc_retries);
  stats["num_ooms"] = static_cast<double>(all.num_ooms);
#else
  (void)device;  // a CPU-only LibTorch has no CUDA allocator to ask
#endif
  return stats;
}

int64_t CUDAAccelerator::auto_device_count() const { return static_cast<int64_t>(torch::cuda::device_count()); }

bool CUDAAccelerator::is_available() const { return torch::cuda::is_available(); }

std::vector<int64_t> CUDAAccelerator::parse_devices(const Devices& devices) const {
  const int64_t available = auto_device_count();
  const auto invalid = [&](const std::string& why) {
    return MisconfigurationException(fmt::format(
        "devices={} is invalid with the CUDAAccelerator: {}; accepted: an int N > 0 (the first N GPUs), -1 or \"-1\" "
        "(all), \"auto\", a string of one number (a count: \"3\"), or GPU indices as a list or a comma string "
        "(\"0,2\", \"1,\") of the {} GPU(s) here",
        devices.str(), why, available));
  };
  auto first = [&](int64_t n) {
    if (n > available) throw invalid(fmt::format("{} GPU(s) asked for, {} available", n, available));
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
    return ids;
  };
  std::vector<int64_t> ids;
  if (const auto* n = std::get_if<int64_t>(&devices.value)) {
    if (*n < -1 || *n == 0) throw invalid("it selects no GPU");
    ids = first(*n == -1 ? available : *n);
  } else if (const auto* s = std::get_if<std::string>(&devices.value)) {
    std::string spec;
    std::remove_copy_if(s->begin(), s->end(), std::back_inserter(spec), [](unsigned char c) { return std::isspace(c); });
    const bool digits_and_commas = !spec.empty() && std::all_of(spec.begin(), spec.end(), [](unsigned char c) {
      return std::isdigit(c) || c == ',';
    });
    if (spec == "auto" || spec == "-1") {
      ids = first(available);
    } else if (!digits_and_commas) {
      throw invalid("not a number, a list of numbers, \"auto\" or \"-1\"");
    } else if (spec.find(',') == std::string::npos) {
      const int64_t n = lightning::detail::parse_integer<int64_t>(spec).value_or(std::numeric_limits<int64_t>::max());
      if (n == 0) throw invalid("it selects no GPU");
      ids = first(n);  // Lightning: a string of one number is a count, not an index
    } else {
      for (size_t start = 0; start <= spec.size();) {
        const size_t comma = std::min(spec.find(',', start), spec.size());
        if (comma > start) {
          const auto id = lightning::detail::parse_integer<int64_t>(std::string_view(spec).substr(start, comma - start));
          ids.push_back(id.value_or(std::numeric_limits<int64_t>::max()));  // past int64: an index not here
        }
        start = comma + 1;
      }
    }
  } else {
    for (int id : std::get<std::vector<int>>(devices.value)) ids.push_back(id);
  }
  if (ids.empty()) throw invalid("it selects no GPU");
  if (std::set<int64_t>(ids.begin(), ids.end()).size() != ids.size()) throw invalid("an index appears twice");
  for (int64_t id : ids)
    if (id < 0 || id >= available) throw invalid(fmt::format("GPU {} does not exist", id));
  return ids;
}

std::vector<torch::Device> CUDAAccelerator::get_parallel_devices(const Devices& devices) const {
  std::vector<torch::Device> out;
  for (int64_t id : parse_devices(devices)) out.emplace_back(torch::kCUDA, static_cast<c10::DeviceIndex>(id));
  return out;
}

}  // namespace lightning::accelerators
