#pragma once
/// Seeding for reproducible runs.
#include <cstdint>
#include <memory>

namespace lightning {

/// Seeds LibTorch's CPU (and CUDA) generators and the C library's `rand`; returns the seed.
/// DataLoaders constructed afterwards draw their shuffle seeds from it, so their order is
/// reproducible too. `workers` is accepted for Lightning compatibility (worker threads share
/// the process's generators).
uint64_t seed_everything(uint64_t seed, bool workers = false);

/// Saves LibTorch's CPU and CUDA generator states and restores them when destroyed, so code run
/// in between (the sanity check, for one) does not change the randomness of what follows
/// (Lightning's `isolate_rng`).
class IsolateRng {
 public:
  IsolateRng();
  ~IsolateRng();
  IsolateRng(const IsolateRng&) = delete;
  IsolateRng& operator=(const IsolateRng&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lightning
