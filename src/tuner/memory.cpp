#include "tuner/memory.h"

#include "lightning/utilities/errors.h"
#include "lightning/utilities/torch_compat.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/alignment.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <string_view>

namespace lightning::tuner::detail {

bool is_oom_error(const std::exception& error) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error)) return true;
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  const std::string_view message = c10_error ? c10_error->what_without_backtrace() : error.what();
  const auto has = [&](std::string_view part) { return message.find(part) != std::string_view::npos; };
  return (has("CUDA") && has("out of memory")) || has("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED.") ||
         has(compat::kCpuOutOfMemoryMessage);
}

void empty_cuda_cache() {
  // LibTorch 1.x exports `c10::cuda::CUDACachingAllocator::emptyCache()`; where it is inline
  // (2.x) there is nothing to call, and the caching allocator already frees its cache and
  // retries before it reports an out-of-memory error.
  using EmptyCache = void (*)();
  static const auto empty_cache =
      reinterpret_cast<EmptyCache>(::dlsym(RTLD_DEFAULT, "_ZN3c104cuda20CUDACachingAllocator10emptyCacheEv"));
  if (empty_cache) empty_cache();
}

namespace {

// Each allocation carries its size and the budget it counts in, in front of the data (one
// alignment unit, so the data keeps LibTorch's alignment and data == context, as the raw
// allocation interface requires).
struct Header {
  size_t bytes;
  uint64_t budget;  // 0: not counted
};
constexpr size_t kHeader = c10::gAlignment;
static_assert(sizeof(Header) <= kHeader);

std::atomic<uint64_t> active_budget{0};  // the id of the budget alive, 0 when none
uint64_t last_budget = 0;
std::atomic<int64_t> live_bytes{0};
std::atomic<int64_t> peak_bytes_seen{0};
int64_t max_bytes_allowed = 0;
c10::Allocator* previous_allocator = nullptr;

void release(void* data) {
  if (!data) return;
  auto* header = reinterpret_cast<Header*>(static_cast<char*>(data) - kHeader);
  if (header->budget != 0 && header->budget == active_budget.load()) live_bytes.fetch_sub(static_cast<int64_t>(header->bytes));
  c10::free_cpu(header);
}

/// LibTorch's default CPU allocation (c10::alloc_cpu), counted. It stays installed in storages
/// made during a budget (they reallocate through it), so it lives for the whole program.
struct CountingCPUAllocator final : compat::AllocatorBase {
  c10::DataPtr allocate_bytes(size_t n) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &release, cpu};
    const uint64_t budget = active_budget.load();
    const auto bytes = static_cast<int64_t>(n);
    if (budget != 0) {
      const int64_t live = live_bytes.fetch_add(bytes) + bytes;
      if (live > max_bytes_allowed) {
        live_bytes.fetch_sub(bytes);
        TORCH_CHECK_WITH(OutOfMemoryError, false,
                         fmt::format("CPU out of memory under the batch-size scaler's max_memory={} bytes: tried to "
                                     "allocate {} bytes with {} bytes allocated in this trial",
                                     max_bytes_allowed, n, live - bytes));
      }
      for (int64_t peak = peak_bytes_seen.load(); live > peak && !peak_bytes_seen.compare_exchange_weak(peak, live);) {
      }
    }
    void* base = nullptr;
    try {
      base = c10::alloc_cpu(n + kHeader);
    } catch (...) {
      if (budget != 0) live_bytes.fetch_sub(bytes);
      throw;
    }
    auto* header = static_cast<Header*>(base);
    header->bytes = n;
    header->budget = budget;
    void* data = static_cast<char*>(base) + kHeader;
    return {data, data, &release, cpu};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};

CountingCPUAllocator& counting_allocator() {
  static auto* allocator = new CountingCPUAllocator();  // never destroyed: storages keep pointers to it
  return *allocator;
}

}  // namespace

CPUMemoryBudget::CPUMemoryBudget(int64_t max_bytes) {
  if (active_budget.load() != 0)
    throw MisconfigurationException("max_memory: a CPU memory budget is already active; accepted: one at a time");
  auto* counting = &counting_allocator();
  previous_allocator = c10::GetCPUAllocator();
  max_bytes_allowed = max_bytes;
  live_bytes = 0;
  peak_bytes_seen = 0;
  active_budget = ++last_budget;
  // An allocator registered with a higher priority would ignore a priority-0 registration.
  for (uint8_t priority : {uint8_t{0}, std::numeric_limits<uint8_t>::max()}) {
    c10::SetCPUAllocator(counting, priority);
    priority_ = priority;
    if (c10::GetCPUAllocator() == counting) return;
  }
  active_budget = 0;
  throw MisconfigurationException(
      "max_memory: LibTorch's CPU allocator cannot be replaced to count the trial's memory; accepted: max_memory unset");
}

CPUMemoryBudget::~CPUMemoryBudget() {
  active_budget = 0;
  c10::SetCPUAllocator(previous_allocator, priority_);
}

int64_t CPUMemoryBudget::peak_bytes() const { return peak_bytes_seen.load(); }

}  // namespace lightning::tuner::detail
