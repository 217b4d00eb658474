#include "lightning/accelerators/cpu.h"

#include "accelerators/cpu_host.h"
#include "utilities/numbers.h"
#include "lightning/utilities/errors.h"

#include <ATen/Parallel.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>

namespace lightning::accelerators {

void CPUAccelerator::setup_device(const torch::Device& device) {
  if (!device.is_cpu())
    throw MisconfigurationException(
        fmt::format("CPUAccelerator: the device should be the CPU, got {}; accepted: torch::kCPU", device.str()));
  if (options_.tune_host_allocator) detail::tune_host_allocator();
  if (options_.match_blas_threads) detail::match_blas_threads(at::get_num_threads());
}

namespace {

/// `/proc/meminfo` fields in kB (0 when missing).
std::map<std::string, double> meminfo() {
  std::map<std::string, double> fields;
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    fields[key.substr(0, key.size() - 1)] = kb;
    std::getline(in, unit);
  }
  return fields;
}

/// Busy and total jiffies of all CPUs, from `/proc/stat`.
std::pair<double, double> cpu_jiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double busy = 0, total = 0, v = 0;
  for (int field = 0; field < 8 && in >> v; ++field) {
    total += v;
    if (field != 3 && field != 4) busy += v;  // idle and iowait
  }
  return {busy, total};
}

double percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

}  // namespace

std::map<std::string, double> get_cpu_stats() {
  static std::mutex mutex;
  static std::pair<double, double> last{0, 0};
  const auto now = cpu_jiffies();
  double cpu = 0;
  {
    std::lock_guard lock(mutex);
    cpu = percent(now.first - last.first, now.second - last.second);
    last = now;
  }
  auto mem = meminfo();
  return {{"cpu_vm_percent", percent(mem["MemTotal"] - mem["MemAvailable"], mem["MemTotal"])},
          {"cpu_percent", cpu},
          {"cpu_swap_percent", percent(mem["SwapTotal"] - mem["SwapFree"], mem["SwapTotal"])}};
}

std::map<std::string, double> CPUAccelerator::get_device_stats(const torch::Device&) const { return get_cpu_stats(); }

std::vector<int64_t> CPUAccelerator::parse_devices(const Devices& devices) const {
  constexpr int64_t kMaxProcesses = 4096;
  const auto invalid = [&] {
    return MisconfigurationException(fmt::format(
        "devices={} is invalid with the CPUAccelerator; accepted: an int in [1, {}] (that many processes), the same as a "
        "string (\"2\"), \"auto\" or -1 (one process: the CPU is one device)",
        devices.str(), kMaxProcesses));
  };
  int64_t count = 0;
  if (const auto* n = std::get_if<int64_t>(&devices.value)) {
    count = *n == -1 ? auto_device_count() : *n;
  } else if (const auto* s = std::get_if<std::string>(&devices.value)) {
    if (*s == "auto" || *s == "-1") {
      count = auto_device_count();
    } else {
      if (s->empty() || !std::all_of(s->begin(), s->end(), [](unsigned char c) { return std::isdigit(c); }))
        throw invalid();
      count = lightning::detail::parse_integer<int64_t>(*s).value_or(0);
    }
  } else {
    throw invalid();
  }
  // More processes than any host could run is a typo, not a request for 10^10 vector entries.
  if (count <= 0 || count > kMaxProcesses) throw invalid();
  std::vector<int64_t> ids(static_cast<size_t>(count));
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

std::vector<torch::Device> CPUAccelerator::get_parallel_devices(const Devices& devices) const {
  return std::vector<torch::Device>(parse_devices(devices).size(), torch::Device(torch::kCPU));
}

}  // namespace lightning::accelerators
