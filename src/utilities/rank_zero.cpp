#include "lightning/utilities/rank_zero.h"

#include <atomic>
#include <cstdlib>
#include <iostream>

namespace lightning {
namespace {

int64_t rank_from_environment() {
  for (const char* name : {"RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    char* end = nullptr;
    const long long rank = std::strtoll(value, &end, 10);
    if (end && *end == '\0') return rank;
  }
  return 0;
}

std::atomic<int64_t>& rank() {
  static std::atomic<int64_t> value{rank_from_environment()};
  return value;
}

}  // namespace

int64_t rank_zero_only_rank() { return rank().load(std::memory_order_relaxed); }
void set_rank_zero_only_rank(int64_t r) { rank().store(r, std::memory_order_relaxed); }

void rank_zero_info(const std::string& message) {
  if (rank_zero_only_rank() == 0) std::cerr << message << std::endl;
}

void rank_zero_warn(const std::string& message) {
  if (rank_zero_only_rank() == 0) std::cerr << "UserWarning: " << message << std::endl;
}

}  // namespace lightning
