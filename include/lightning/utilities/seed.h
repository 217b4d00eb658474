#pragma once
/// Seeding for reproducible runs.
#include <cstdint>

namespace lightning {

/// Seeds LibTorch's CPU (and CUDA) generators and the C library's `rand`; returns the seed.
/// DataLoaders constructed afterwards draw their shuffle seeds from it, so their order is
/// reproducible too. `workers` is accepted for Lightning compatibility (worker threads share
/// the process's generators).
uint64_t seed_everything(uint64_t seed, bool workers = false);

}  // namespace lightning
