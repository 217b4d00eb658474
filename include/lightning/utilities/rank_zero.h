#pragma once
/// Rank-zero output (Lightning's `rank_zero_only`, `rank_zero_info`, `rank_zero_warn`): in a run
/// of several processes, messages meant once per run come from global rank 0 only.
#include <cstdint>
#include <string>
#include <utility>

namespace lightning {

/// This process's global rank: what a distributed strategy set, else what the launch variables
/// say (RANK, LOCAL_RANK, SLURM_PROCID, JSM_NAMESPACE_RANK, the first one set), else 0.
int64_t rank_zero_only_rank();
/// Set by the strategies when they know the ranks.
void set_rank_zero_only_rank(int64_t rank);

/// Calls `f` on global rank 0 only.
template <typename F>
void rank_zero_only(F&& f) {
  if (rank_zero_only_rank() == 0) std::forward<F>(f)();
}

/// `message` on standard error, on global rank 0 only.
void rank_zero_info(const std::string& message);
/// "UserWarning: " and `message` on standard error, on global rank 0 only.
void rank_zero_warn(const std::string& message);

}  // namespace lightning
