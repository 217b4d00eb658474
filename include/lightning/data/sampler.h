#pragma once
/// The order in which a DataLoader visits a map-style dataset.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lightning {

/// Indices 0..size-1, in order, or shuffled by a permutation that depends only on
/// (seed, epoch): the same seed and epoch give the same order on every run and machine.
std::vector<size_t> sample_order(size_t size, bool shuffle, uint64_t seed, int64_t epoch);

}  // namespace lightning
