#pragma once
/// The order in which a DataLoader visits a map-style dataset.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace lightning {

/// Indices 0..size-1, in order, or shuffled by a permutation that depends only on
/// (seed, epoch): the same seed and epoch give the same order on every run and machine.
std::vector<size_t> sample_order(size_t size, bool shuffle, uint64_t seed, int64_t epoch);

/// The indices one pass of a DataLoader visits (PyTorch's torch.utils.data.Sampler), given
/// the dataset's length and the epoch. Set one with `DataLoaderOptions::sampler`. `indices`
/// must return `length(dataset_size)` entries, each < dataset_size, and is const: the DataLoader
/// calls it once per pass, and copies of a DataLoader share the sampler.
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The order of one pass over a map-style dataset of `dataset_size` samples in `epoch`.
  virtual std::vector<size_t> indices(size_t dataset_size, int64_t epoch) const = 0;
  /// How many indices `indices(dataset_size, ...)` returns.
  virtual size_t length(size_t dataset_size) const = 0;
};

/// PyTorch's torch.utils.data.distributed.DistributedSampler: rank `rank` of `num_replicas`
/// gets every num_replicas-th index of one shared order, so the ranks' parts are disjoint
/// (but for padding) and equally long. The order is `torch::randperm` with a CPU generator
/// seeded with `seed + epoch`, bit-identical to PyTorch's for the same seed and epoch; without
/// `drop_last` it is padded by repeating its head until it divides evenly, with `drop_last`
/// its tail is cut instead.
///
///     lightning::DataLoader loader(dataset, {.batch_size = 32,
///         .sampler = std::make_shared<lightning::DistributedSampler>(
///             lightning::DistributedSampler::Options{.num_replicas = 4, .rank = 1})});
class DistributedSampler : public Sampler {
 public:
  struct Options {
    /// Processes that share the dataset (the world size); >= 1.
    int64_t num_replicas;
    /// This process's part, in [0, num_replicas - 1].
    int64_t rank;
    /// Permute the indices (with seed + epoch) before dealing them out.
    bool shuffle = true;
    /// Must be the same on every rank.
    uint64_t seed = 0;
    /// Cut the tail to a multiple of num_replicas instead of padding.
    bool drop_last = false;
  };

  /// Throws MisconfigurationException for num_replicas < 1 or rank outside [0, num_replicas - 1].
  explicit DistributedSampler(Options options);

  std::vector<size_t> indices(size_t dataset_size, int64_t epoch) const override;
  /// PyTorch's num_samples: ceil(n / num_replicas), or floor(n / num_replicas) with drop_last.
  size_t length(size_t dataset_size) const override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

/// Lightning's DistributedSamplerWrapper: shards the order of a user's sampler. A pass takes
/// `sampler->indices(n, epoch)` and gives this rank the entries at the positions that a
/// DistributedSampler (with these options) over that list's length picks.
class DistributedSamplerWrapper : public Sampler {
 public:
  /// Throws MisconfigurationException for a null sampler or invalid options (as DistributedSampler).
  DistributedSamplerWrapper(std::shared_ptr<const Sampler> sampler, DistributedSampler::Options options);

  /// Throws MisconfigurationException if the wrapped sampler returns a list whose length is not
  /// its `length(dataset_size)`.
  std::vector<size_t> indices(size_t dataset_size, int64_t epoch) const override;
  size_t length(size_t dataset_size) const override;
  const std::shared_ptr<const Sampler>& sampler() const { return sampler_; }

 private:
  std::shared_ptr<const Sampler> sampler_;
  DistributedSampler positions_;
};

/// Lightning's UnrepeatedDistributedSampler, for prediction and evaluation: no padding and
/// nothing dropped, so every sample is seen exactly once; rank r gets order[r::num_replicas],
/// and the ranks' lengths may differ by one. Shuffling uses `torch::randperm` with a generator
/// seeded with the epoch alone, as Lightning does (it ignores the seed argument).
class UnrepeatedDistributedSampler : public Sampler {
 public:
  struct Options {
    int64_t num_replicas;
    int64_t rank;
    bool shuffle = true;
  };

  /// Throws MisconfigurationException for num_replicas < 1 or rank outside [0, num_replicas - 1].
  explicit UnrepeatedDistributedSampler(Options options);

  std::vector<size_t> indices(size_t dataset_size, int64_t epoch) const override;
  /// The length of range(rank, n, num_replicas).
  size_t length(size_t dataset_size) const override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

/// Lightning's UnrepeatedDistributedSamplerWrapper: UnrepeatedDistributedSampler over the
/// positions of a user's sampler's order.
class UnrepeatedDistributedSamplerWrapper : public Sampler {
 public:
  /// Throws MisconfigurationException for a null sampler or invalid options.
  UnrepeatedDistributedSamplerWrapper(std::shared_ptr<const Sampler> sampler,
                                      UnrepeatedDistributedSampler::Options options);

  std::vector<size_t> indices(size_t dataset_size, int64_t epoch) const override;
  size_t length(size_t dataset_size) const override;
  const std::shared_ptr<const Sampler>& sampler() const { return sampler_; }

 private:
  std::shared_ptr<const Sampler> sampler_;
  UnrepeatedDistributedSampler positions_;
};

}  // namespace lightning
