#include "lightning/data/sampler.h"

#include "lightning/utilities/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/types.h>

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

// ---------------------------------------------------------------------------------------------
// Distributed samplers

namespace {

void check_replicas(const char* who, int64_t num_replicas, int64_t rank) {
  // PyTorch checks only the rank, so num_replicas=0 reads "interval [0, -1]"; say it plainly.
  if (num_replicas < 1)
    throw MisconfigurationException(fmt::format(
        "{}: Invalid num_replicas {}, num_replicas should be an integer >= 1", who, num_replicas));
  if (rank < 0 || rank >= num_replicas)
    throw MisconfigurationException(fmt::format(
        "{}: Invalid rank {}, rank should be in the interval [0, {}]", who, rank, num_replicas - 1));
}

/// torch.randperm(n, generator=g).tolist() with g = torch.Generator(); g.manual_seed(seed).
std::vector<size_t> torch_randperm(size_t n, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(static_cast<int64_t>(n), gen, torch::kLong).contiguous();
  const int64_t* data = perm.data_ptr<int64_t>();
  return std::vector<size_t>(data, data + n);
}

std::vector<size_t> base_order(size_t n, bool shuffle, uint64_t seed) {
  if (shuffle) return torch_randperm(n, seed);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  return order;
}

/// `list[positions[k]]` for each k: a wrapper's sampler order, sharded.
std::vector<size_t> pick(const std::vector<size_t>& list, const std::vector<size_t>& positions) {
  std::vector<size_t> out;
  out.reserve(positions.size());
  for (size_t p : positions) out.push_back(list[p]);
  return out;
}

std::vector<size_t> wrapped_order(const char* who, const Sampler& sampler, size_t dataset_size,
                                  int64_t epoch) {
  std::vector<size_t> order = sampler.indices(dataset_size, epoch);
  const size_t expected = sampler.length(dataset_size);
  if (order.size() != expected)
    throw MisconfigurationException(fmt::format(
        "{}: the wrapped sampler returned {} indices for a dataset of {} samples but its "
        "length() is {}; expected indices().size() == length()",
        who, order.size(), dataset_size, expected));
  return order;
}

}  // namespace

DistributedSampler::DistributedSampler(Options options) : options_(options) {
  check_replicas("DistributedSampler", options_.num_replicas, options_.rank);
}

size_t DistributedSampler::length(size_t n) const {
  const auto replicas = static_cast<size_t>(options_.num_replicas);
  // PyTorch: ceil((n - R) / R) when drop_last and R does not divide n, which is floor(n / R)
  // (0 when n < R), else ceil(n / R).
  if (options_.drop_last && n % replicas != 0) return n / replicas;
  return (n + replicas - 1) / replicas;
}

std::vector<size_t> DistributedSampler::indices(size_t n, int64_t epoch) const {
  const std::vector<size_t> order =
      base_order(n, options_.shuffle, options_.seed + static_cast<uint64_t>(epoch));
  const auto replicas = static_cast<size_t>(options_.num_replicas);
  const size_t num_samples = length(n);
  // The padded (order repeated from its start as often as needed) or truncated list has
  // num_samples * replicas entries; its entry j is order[j % n]. This rank takes
  // entries rank, rank + R, rank + 2R, ...
  std::vector<size_t> out;
  out.reserve(num_samples);
  for (size_t k = 0; k < num_samples; ++k)
    out.push_back(order[(static_cast<size_t>(options_.rank) + k * replicas) % n]);
  return out;
}

DistributedSamplerWrapper::DistributedSamplerWrapper(std::shared_ptr<const Sampler> sampler,
                                                     DistributedSampler::Options options)
    : sampler_(std::move(sampler)), positions_([&] {
        check_replicas("DistributedSamplerWrapper", options.num_replicas, options.rank);
        return options;
      }()) {
  if (!sampler_)
    throw MisconfigurationException(
        "DistributedSamplerWrapper: sampler=nullptr is invalid; expected the sampler to shard");
}

size_t DistributedSamplerWrapper::length(size_t dataset_size) const {
  return positions_.length(sampler_->length(dataset_size));
}

std::vector<size_t> DistributedSamplerWrapper::indices(size_t dataset_size, int64_t epoch) const {
  const auto order = wrapped_order("DistributedSamplerWrapper", *sampler_, dataset_size, epoch);
  return pick(order, positions_.indices(order.size(), epoch));
}

UnrepeatedDistributedSampler::UnrepeatedDistributedSampler(Options options) : options_(options) {
  check_replicas("UnrepeatedDistributedSampler", options_.num_replicas, options_.rank);
}

size_t UnrepeatedDistributedSampler::length(size_t n) const {
  const auto rank = static_cast<size_t>(options_.rank);
  const auto replicas = static_cast<size_t>(options_.num_replicas);
  return rank < n ? (n - rank + replicas - 1) / replicas : 0;
}

std::vector<size_t> UnrepeatedDistributedSampler::indices(size_t n, int64_t epoch) const {
  // Lightning seeds with the epoch only: `g.manual_seed(self.epoch)`.
  const std::vector<size_t> order = base_order(n, options_.shuffle, static_cast<uint64_t>(epoch));
  std::vector<size_t> out;
  out.reserve(length(n));
  for (size_t j = static_cast<size_t>(options_.rank); j < n; j += static_cast<size_t>(options_.num_replicas))
    out.push_back(order[j]);
  return out;
}

UnrepeatedDistributedSamplerWrapper::UnrepeatedDistributedSamplerWrapper(
    std::shared_ptr<const Sampler> sampler, UnrepeatedDistributedSampler::Options options)
    : sampler_(std::move(sampler)), positions_([&] {
        check_replicas("UnrepeatedDistributedSamplerWrapper", options.num_replicas, options.rank);
        return options;
      }()) {
  if (!sampler_)
    throw MisconfigurationException(
        "UnrepeatedDistributedSamplerWrapper: sampler=nullptr is invalid; expected the sampler "
        "to shard");
}

size_t UnrepeatedDistributedSamplerWrapper::length(size_t dataset_size) const {
  return positions_.length(sampler_->length(dataset_size));
}

std::vector<size_t> UnrepeatedDistributedSamplerWrapper::indices(size_t dataset_size,
                                                                 int64_t epoch) const {
  const auto order =
      wrapped_order("UnrepeatedDistributedSamplerWrapper", *sampler_, dataset_size, epoch);
  return pick(order, positions_.indices(order.size(), epoch));
}

}  // namespace lightning
