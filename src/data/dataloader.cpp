#include "lightning/data/dataloader.h"

#include "lightning/data/sampler.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/seed.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace lightning {
namespace {

/// One pass over the data: yields batches in order until it returns false.
struct BatchSource {
  virtual ~BatchSource() = default;
  virtual bool next(Batch& out) = 0;
};

Batch pin_batch(Batch batch) {
  for (auto& f : batch.fields())
    if (f.defined() && f.device().is_cpu() && !f.is_pinned()) f = f.pin_memory();
  return batch;
}

/// A 64-bit value from LibTorch's default CPU generator (so torch::manual_seed /
/// seed_everything before constructing a DataLoader fixes its shuffle seed).
uint64_t draw_default_seed() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

// ---------------------------------------------------------------------------------------------
// Map-style datasets

/// Builds batch k of a pass: the k-th slice of `order`, fetched with get_batch or, with a
/// custom collate, with get + collate_fn. Thread-safe as far as the dataset is.
struct MapFetcher {
  std::shared_ptr<Dataset> dataset;
  CollateFn collate_fn;
  bool pin = false;
  std::vector<size_t> order;
  size_t batch_size = 1;
  size_t num_batches = 0;
  uint64_t epoch = 0;

  Batch fetch(size_t k) const {
    const size_t begin = k * batch_size;
    const size_t end = std::min(begin + batch_size, order.size());
    std::vector<size_t> indices(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                order.begin() + static_cast<std::ptrdiff_t>(end));
    Batch batch;
    if (collate_fn) {
      std::vector<Batch> samples;
      samples.reserve(indices.size());
      for (size_t i : indices) samples.push_back(dataset->get(i));
      batch = collate_fn(samples);
    } else {
      batch = dataset->get_batch(indices);
    }
    return pin ? pin_batch(std::move(batch)) : batch;
  }
};

/// num_workers == 0: every batch is fetched on the consumer's thread when it is needed.
struct SyncMapSource final : BatchSource {
  SyncMapSource(MapFetcher f, size_t first) : fetcher(std::move(f)), position(first) {}
  bool next(Batch& out) override {
    if (position >= fetcher.num_batches) return false;
    out = fetcher.fetch(position++);
    return true;
  }
  MapFetcher fetcher;
  size_t position = 0;
};

/// num_workers > 0: worker w fetches the batches k with k % n == w (as PyTorch deals them out),
/// at most `capacity` batches ahead of the consumer, and parks the results in a ring of slots;
/// the consumer takes them in order. The fixed dealing makes each batch's worker, and so the
/// worker generator's seed, the same in every run.
struct ThreadedMapSource final : BatchSource {
  struct Slot {
    bool ready = false;
    Batch batch;
    std::exception_ptr error;
  };

  ThreadedMapSource(MapFetcher f, size_t num_workers, size_t capacity_, size_t first)
      : fetcher(std::move(f)), capacity(capacity_), slots(capacity_), consumed(first) {
    const size_t n = num_workers;
    const uint64_t base_seed = detail::worker_base_seed();
    try {
      for (size_t w = 0; w < n; ++w) {
        const size_t k0 = first + (w + n - first % n) % n;  // w's first batch at or after `first`
        if (k0 >= fetcher.num_batches) continue;
        workers.emplace_back([this, w, n, k0, base_seed] {
          detail::set_worker_info(static_cast<int64_t>(w), static_cast<int64_t>(n), base_seed);
          work(k0, n);
        });
      }
    } catch (...) {
      shutdown();
      throw;
    }
  }
  ~ThreadedMapSource() override { shutdown(); }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& t : workers)
      if (t.joinable()) t.join();
  }

  void work(size_t k, size_t stride) {
    at::init_num_threads();
    for (; k < fetcher.num_batches; k += stride) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        work_cv.wait(lock, [&] { return stop || k < consumed + capacity; });
        if (stop) return;
      }
      Batch batch;
      std::exception_ptr error;
      try {
        detail::seed_worker_batch(fetcher.epoch, k);
        batch = fetcher.fetch(k);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        Slot& slot = slots[k % capacity];
        slot.batch = std::move(batch);
        slot.error = error;
        slot.ready = true;
      }
      ready_cv.notify_one();
    }
  }

  bool next(Batch& out) override {
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (consumed >= fetcher.num_batches) return false;
      Slot& slot = slots[consumed % capacity];
      ready_cv.wait(lock, [&] { return slot.ready; });
      out = std::move(slot.batch);
      error = slot.error;
      slot = Slot{};
      ++consumed;
    }
    work_cv.notify_all();  // the worker of the batch that now fits may be any of them
    if (error) std::rethrow_exception(error);
    return true;
  }

  MapFetcher fetcher;
  size_t capacity;
  std::mutex mutex;
  std::condition_variable work_cv;   // workers wait for room ahead of the consumer
  std::condition_variable ready_cv;  // the consumer waits for its next batch
  std::vector<Slot> slots;
  size_t consumed = 0;    // batches handed to the consumer
  bool stop = false;
  std::vector<std::thread> workers;
};

// ---------------------------------------------------------------------------------------------
// Iterable datasets

/// Pulls up to batch_size samples from the stream and collates them.
struct IterableFetcher {
  std::shared_ptr<IterableDataset> dataset;
  CollateFn collate_fn;
  bool pin = false;
  size_t batch_size = 1;
  bool drop_last = false;

  uint64_t epoch = 0;

  std::optional<Batch> pull() const {
    std::vector<Batch> samples;
    samples.reserve(batch_size);
    while (samples.size() < batch_size) {
      auto sample = dataset->next();
      if (!sample) break;
      samples.push_back(std::move(*sample));
    }
    if (samples.empty() || (drop_last && samples.size() < batch_size)) return std::nullopt;
    Batch batch = collate_fn ? collate_fn(samples) : default_collate(samples);
    return pin ? pin_batch(std::move(batch)) : batch;
  }
};

struct SyncIterableSource final : BatchSource {
  explicit SyncIterableSource(IterableFetcher f) : fetcher(std::move(f)) { fetcher.dataset->reset(); }
  bool next(Batch& out) override {
    if (finished) return false;
    auto batch = fetcher.pull();
    if (!batch) {
      finished = true;
      return false;
    }
    out = std::move(*batch);
    return true;
  }
  IterableFetcher fetcher;
  bool finished = false;
};

/// num_workers > 0 with an IterableDataset: ONE producer thread (a stream cannot be split
/// between workers without duplicating it) keeps up to `capacity` batches ready.
struct ThreadedIterableSource final : BatchSource {
  struct Item {
    Batch batch;
    std::exception_ptr error;
  };

  ThreadedIterableSource(IterableFetcher f, size_t capacity_)
      : fetcher(std::move(f)), capacity(capacity_) {
    producer = std::thread([this, base_seed = detail::worker_base_seed()] {
      detail::set_worker_info(0, 1, base_seed);
      produce();
    });
  }
  ~ThreadedIterableSource() override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    space_cv.notify_all();
    if (producer.joinable()) producer.join();
  }

  void produce() {
    at::init_num_threads();
    try {
      fetcher.dataset->reset();
      for (uint64_t k = 0;; ++k) {
        {
          std::unique_lock<std::mutex> lock(mutex);
          space_cv.wait(lock, [&] { return stop || queue.size() < capacity; });
          if (stop) return;
        }
        detail::seed_worker_batch(fetcher.epoch, k);
        auto batch = fetcher.pull();
        if (!batch) break;
        {
          std::lock_guard<std::mutex> lock(mutex);
          queue.push_back(Item{std::move(*batch), nullptr});
        }
        item_cv.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(Item{Batch(), std::current_exception()});
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
    }
    item_cv.notify_one();
  }

  bool next(Batch& out) override {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mutex);
      item_cv.wait(lock, [&] { return !queue.empty() || done; });
      if (queue.empty()) return false;
      item = std::move(queue.front());
      queue.pop_front();
    }
    space_cv.notify_one();
    if (item.error) std::rethrow_exception(item.error);
    out = std::move(item.batch);
    return true;
  }

  IterableFetcher fetcher;
  size_t capacity;
  std::mutex mutex;
  std::condition_variable space_cv;  // the producer waits for room in the queue
  std::condition_variable item_cv;   // the consumer waits for a batch
  std::deque<Item> queue;
  bool done = false;
  bool stop = false;
  std::thread producer;
};

void validate(const DataLoaderOptions& o) {
  if (o.batch_size < 1)
    throw MisconfigurationException(fmt::format(
        "DataLoader: batch_size={} is invalid; expected an integer >= 1", o.batch_size));
  if (o.num_workers < 0)
    throw MisconfigurationException(fmt::format(
        "DataLoader: num_workers={} is invalid; expected an integer >= 0 (0 loads on the "
        "calling thread)",
        o.num_workers));
  if (o.prefetch_factor < 1)
    throw MisconfigurationException(fmt::format(
        "DataLoader: prefetch_factor={} is invalid; expected an integer >= 1", o.prefetch_factor));
}

/// PyTorch checks the dataset kind first, then sampler vs shuffle.
void validate_sampler(const DataLoaderOptions& o, bool iterable) {
  if (iterable && o.sampler)
    throw MisconfigurationException(
        "DataLoader with IterableDataset: expected unspecified sampler option, but got a "
        "sampler (a stream has no indices to sample); expected sampler=nullptr");
  if (o.sampler && o.shuffle)
    throw MisconfigurationException(
        "DataLoader: sampler option is mutually exclusive with shuffle (got shuffle=true and a "
        "sampler, which decides the order itself); expected shuffle=false");
}

size_t batch_count(size_t samples, size_t batch_size, bool drop_last) {
  return drop_last ? samples / batch_size : (samples + batch_size - 1) / batch_size;
}

constexpr const char* kNullDataset =
    "DataLoader: dataset=nullptr is invalid; expected a non-null std::shared_ptr to a Dataset "
    "or an IterableDataset";

}  // namespace

struct DataLoader::Iterator::Pass {
  std::unique_ptr<BatchSource> source;
};

// ---------------------------------------------------------------------------------------------
// DataLoader

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  validate(options_);
  if (!dataset_) throw MisconfigurationException(kNullDataset);
  validate_sampler(options_, false);
  seed_ = options_.seed ? *options_.seed : draw_default_seed();
}

DataLoader::DataLoader(std::shared_ptr<IterableDataset> dataset, DataLoaderOptions options)
    : iterable_(std::move(dataset)), options_(std::move(options)) {
  validate(options_);
  if (!iterable_) throw MisconfigurationException(kNullDataset);
  if (options_.shuffle)
    throw MisconfigurationException(
        "DataLoader: shuffle=true is not supported with an IterableDataset (a stream has no "
        "order to permute); expected shuffle=false");
  validate_sampler(options_, true);
  seed_ = options_.seed ? *options_.seed : draw_default_seed();
}

std::optional<size_t> DataLoader::size() const {
  if (!dataset_) return std::nullopt;
  const size_t n = dataset_->size();
  const size_t samples = options_.sampler ? options_.sampler->length(n) : n;
  return batch_count(samples, static_cast<size_t>(options_.batch_size), options_.drop_last);
}

DataLoader DataLoader::without_shuffle() const {
  DataLoader copy = *this;
  copy.options_.shuffle = false;
  return copy;
}

DataLoader DataLoader::with_sampler(std::shared_ptr<const Sampler> sampler) const {
  DataLoader copy = *this;
  copy.options_.shuffle = false;
  copy.options_.sampler = std::move(sampler);
  validate_sampler(copy.options_, iterable_ != nullptr);
  return copy;
}

DataLoader::Iterator DataLoader::begin() { return begin_at(0); }

DataLoader::Iterator DataLoader::begin_at(size_t first_batch) {
  const bool pin = options_.pin_memory && torch::cuda::is_available();
  const auto bs = static_cast<size_t>(options_.batch_size);
  const auto workers = static_cast<size_t>(options_.num_workers);
  const size_t capacity = workers * static_cast<size_t>(options_.prefetch_factor);
  auto pass = std::make_shared<Iterator::Pass>();
  if (iterable_) {
    IterableFetcher fetcher{iterable_, options_.collate_fn, pin, bs, options_.drop_last, static_cast<uint64_t>(epoch_)};
    if (workers == 0)
      pass->source = std::make_unique<SyncIterableSource>(std::move(fetcher));
    else
      pass->source = std::make_unique<ThreadedIterableSource>(std::move(fetcher), capacity);
    // A stream has no positions: read the skipped batches and drop them.
    Batch dropped;
    for (size_t k = 0; k < first_batch && pass->source->next(dropped); ++k) {
    }
  } else {
    const size_t n = dataset_->size();
    std::vector<size_t> order = options_.sampler ? options_.sampler->indices(n, epoch_)
                                                 : sample_order(n, options_.shuffle, seed_, epoch_);
    const size_t num_batches = batch_count(order.size(), bs, options_.drop_last);
    MapFetcher fetcher{dataset_, options_.collate_fn, pin, std::move(order), bs, num_batches,
                       static_cast<uint64_t>(epoch_)};
    first_batch = std::min(first_batch, fetcher.num_batches);
    if (workers == 0)
      pass->source = std::make_unique<SyncMapSource>(std::move(fetcher), first_batch);
    else
      pass->source = std::make_unique<ThreadedMapSource>(std::move(fetcher), workers, capacity, first_batch);
  }
  ++epoch_;
  return Iterator(std::move(pass));
}

DataLoader::Iterator DataLoader::end() { return Iterator(); }

// ---------------------------------------------------------------------------------------------
// Iterator

DataLoader::Iterator::Iterator(std::shared_ptr<Pass> pass) : pass_(std::move(pass)) { ++*this; }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (!pass_) return *this;
  bool more = false;
  try {
    more = pass_->source->next(current_);
  } catch (...) {
    // The pass ends at a failed batch: stop its workers, then report the error.
    pass_.reset();
    current_ = Batch();
    throw;
  }
  if (!more) {
    pass_.reset();
    current_ = Batch();
  }
  return *this;
}

}  // namespace lightning
