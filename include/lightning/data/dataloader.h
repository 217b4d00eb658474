#pragma once
/// DataLoader: batches a dataset, optionally shuffled, with worker threads.
#include "lightning/core/batch.h"
#include "lightning/data/collate.h"
#include "lightning/data/dataset.h"
#include "lightning/data/sampler.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace lightning {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  /// The order of each pass (e.g. a DistributedSampler); unset: in order, or shuffled with
  /// `seed` and the epoch when `shuffle`. Mutually exclusive with shuffle=true, and not
  /// accepted with an IterableDataset (as in PyTorch). Copies of the loader share it.
  std::shared_ptr<const Sampler> sampler;
  /// Worker threads that fetch and collate batches ahead of the consumer (0: on the caller's
  /// thread). Batches come out in the same order as with 0 workers; an exception thrown while
  /// fetching a batch is rethrown by the iterator at that batch's position (and ends the pass).
  /// With an IterableDataset any value > 0 starts ONE producer thread (a stream cannot be
  /// split between threads without duplicating it); num_workers * prefetch_factor still
  /// bounds the batches it keeps ready.
  int num_workers = 0;
  bool drop_last = false;
  /// Pins batches in page-locked memory when CUDA is available (ignored on CPU-only builds).
  bool pin_memory = false;
  /// Batches fetched ahead per worker: at most num_workers * prefetch_factor batches are in
  /// flight (being fetched or waiting for the consumer).
  int prefetch_factor = 2;
  /// Shuffle seed. Unset: drawn from LibTorch's default generator when the DataLoader is
  /// constructed, so `seed_everything` before building loaders makes the order reproducible.
  std::optional<uint64_t> seed;
  /// Custom collate; unset uses `Dataset::get_batch` (default_collate semantics).
  CollateFn collate_fn;
};

/// A cheap, copyable handle: copies share the dataset. Each `begin()` starts one pass (an
/// epoch); the shuffled order of a pass depends on the seed and the epoch number only.
///
///     lightning::DataLoader loader(dataset, {.batch_size = 32, .shuffle = true, .num_workers = 2});
///     for (auto& batch : loader) { ... }
class DataLoader {
 public:
  class Iterator;

  /// Throws MisconfigurationException for batch_size < 1, num_workers < 0, prefetch_factor < 1,
  /// a null dataset, or a sampler with shuffle=true; `shuffle` or a sampler with an
  /// IterableDataset is rejected as in PyTorch.
  DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options = {});
  DataLoader(std::shared_ptr<IterableDataset> dataset, DataLoaderOptions options = {});

  /// Number of batches (of the sampler's length when one is set), or std::nullopt for an
  /// IterableDataset.
  std::optional<size_t> size() const;
  const DataLoaderOptions& options() const { return options_; }
  std::shared_ptr<Dataset> dataset() const { return dataset_; }
  std::shared_ptr<IterableDataset> iterable_dataset() const { return iterable_; }
  /// Fixes the epoch number that the next pass uses for its shuffled order (and passes to the
  /// sampler); each `begin()` advances it by one afterwards.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  /// A copy that visits the data in order (used by `overfit_batches`); a sampler is kept as it is.
  DataLoader without_shuffle() const;
  /// A copy whose passes follow `sampler` (shuffle off), e.g. the DistributedSampler that a
  /// strategy injects; nullptr gives a copy without a sampler, in order. Throws
  /// MisconfigurationException for a non-null sampler on an IterableDataset.
  DataLoader with_sampler(std::shared_ptr<const Sampler> sampler) const;
  /// The sampler in use, or nullptr.
  std::shared_ptr<const Sampler> sampler() const { return options_.sampler; }

  /// The shuffle seed in use (saved in checkpoints so a resumed run sees the same order).
  uint64_t seed() const { return seed_; }
  void set_seed(uint64_t seed) { seed_ = seed; }

  /// Starts a pass at batch `first_batch` of the epoch's order: the batches before it are not
  /// fetched (map-style datasets) or are read and dropped (iterable datasets). Used to resume
  /// mid-epoch.
  Iterator begin_at(size_t first_batch);
  /// Starts a pass. Only one pass of a given DataLoader object should be live at a time;
  /// abandoning a pass (destroying its iterator) stops its workers.
  Iterator begin();
  Iterator end();

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    Batch& operator*() { return current_; }
    Batch* operator->() { return &current_; }
    Iterator& operator++();
    /// Only comparison with end() is meaningful.
    bool operator==(const Iterator& other) const { return done() == other.done(); }
    bool operator!=(const Iterator& other) const { return !(*this == other); }

   private:
    friend class DataLoader;
    struct Pass;
    explicit Iterator(std::shared_ptr<Pass> pass);
    bool done() const { return !pass_; }
    std::shared_ptr<Pass> pass_;
    Batch current_;
  };

 private:
  std::shared_ptr<Dataset> dataset_;
  std::shared_ptr<IterableDataset> iterable_;
  DataLoaderOptions options_;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
};

/// Several dataloaders (validation, test and predict accept more than one). Converts from a
/// single DataLoader, so hooks can `return loader;`.
struct DataLoaders {
  DataLoaders() = default;
  DataLoaders(DataLoader loader) : loaders{std::move(loader)} {}
  DataLoaders(std::vector<DataLoader> all) : loaders(std::move(all)) {}
  DataLoaders(std::initializer_list<DataLoader> all) : loaders(all) {}
  bool empty() const { return loaders.empty(); }
  size_t size() const { return loaders.size(); }
  std::vector<DataLoader> loaders;
};

}  // namespace lightning
