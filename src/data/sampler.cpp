#include "lightning/data/sampler.h"

#include <numeric>

namespace lightning {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): a fixed, fully specified 64-bit generator, so the
// permutation is the same for every compiler, standard library and LibTorch version
// (std::uniform_int_distribution and torch::randperm are not specified bit-for-bit).
struct SplitMix64 {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

// Uniform integer in [0, bound) without modulo bias (Lemire's multiply-and-reject).
uint64_t bounded(SplitMix64& rng, uint64_t bound) {
  unsigned __int128 m = static_cast<unsigned __int128>(rng()) * bound;
  auto low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(rng()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace

std::vector<size_t> sample_order(size_t size, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(size);
  std::iota(order.begin(), order.end(), size_t{0});
  if (!shuffle || size < 2) return order;
  // Mix seed and epoch into one well-scrambled starting state: (seed, epoch) pairs that are
  // close (seed+1 vs epoch+1) still land far apart.
  SplitMix64 mixer{seed};
  const uint64_t seed_hash = mixer();
  SplitMix64 rng{seed_hash ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL)};
  rng.state = rng();
  // Fisher-Yates.
  for (size_t i = size - 1; i > 0; --i) {
    const auto j = static_cast<size_t>(bounded(rng, static_cast<uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace lightning
