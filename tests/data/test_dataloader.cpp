#include "helpers/errors.h"
#include "lightning/data/dataloader.h"

#include "lightning/core/datamodule.h"
#include "lightning/data/sampler.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

// C++20 designated initializers that leave members at their defaults (GCC warns under -Wextra).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace L = lightning;
using namespace std::chrono_literals;

using lightning::testing::contains;
using lightning::testing::error_of;

namespace {

/// Runs `fn` on a thread; fails (and aborts, rather than hang the suite) past `limit`.
template <typename F>
void within(std::chrono::seconds limit, F fn) {
  auto task = std::make_shared<std::packaged_task<void()>>(std::move(fn));
  auto done = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (done.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "did not finish within " << limit.count() << " s (deadlock?)";
    std::fflush(nullptr);
    std::abort();
  }
  done.get();  // rethrows a failure inside fn
}

std::shared_ptr<L::TensorDataset> make_dataset(int64_t n) {
  auto x = torch::arange(n * 3, torch::kFloat).reshape({n, 3});
  auto y = torch::arange(n);
  return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y});
}

/// Sample i is {i}; fetching sleeps a little, longer for some batches, so that worker threads
/// finish out of order. Optionally throws for a given index. Counts fetches.
class SlowDataset : public L::Dataset {
 public:
  explicit SlowDataset(size_t n, std::optional<size_t> throw_at = std::nullopt,
                       std::chrono::microseconds delay = 300us)
      : n_(n), throw_at_(throw_at), delay_(delay) {}
  size_t size() const override { return n_; }
  L::Batch get(size_t i) const override {
    if (throw_at_ && i == *throw_at_) throw std::runtime_error("bad sample " + std::to_string(i));
    return L::Batch{torch::tensor(static_cast<int64_t>(i))};
  }
  L::Batch get_batch(const std::vector<size_t>& indices) const override {
    fetches_.fetch_add(1);
    // batch-dependent jitter: later-claimed batches often finish first
    const auto first = indices.empty() ? 0 : indices.front();
    std::this_thread::sleep_for(delay_ * static_cast<int64_t>((first * 7919) % 5));
    return L::Dataset::get_batch(indices);
  }
  int fetches() const { return fetches_.load(); }

 private:
  size_t n_;
  std::optional<size_t> throw_at_;
  std::chrono::microseconds delay_;
  mutable std::atomic<int> fetches_{0};
};

std::vector<std::vector<int64_t>> field0_rows(L::DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (auto& batch : loader) {
    auto t = batch[0].to(torch::kLong).reshape({-1}).contiguous();
    out.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }
  return out;
}

/// A stream of `n` samples {x: [i, i], y: i}; counts reset() calls; can throw at a sample.
class CountingStream : public L::IterableDataset {
 public:
  explicit CountingStream(int64_t n, std::optional<int64_t> throw_at = std::nullopt)
      : n_(n), throw_at_(throw_at) {}
  void reset() override {
    ++resets;
    i_ = 0;
  }
  std::optional<L::Batch> next() override {
    if (i_ >= n_) return std::nullopt;
    if (throw_at_ && i_ == *throw_at_) throw std::runtime_error("stream broke at sample " + std::to_string(i_));
    const auto i = i_++;
    return L::Batch({{"x", torch::full({2}, static_cast<float>(i))}, {"y", torch::tensor(i)}});
  }
  std::atomic<int> resets{0};

 private:
  int64_t n_;
  std::optional<int64_t> throw_at_;
  int64_t i_ = 0;
};

}  // namespace

// ---- sizes and batching ------------------------------------------------------------------------

TEST(DataLoaderTest, BatchCountsWithAndWithoutDropLast) {
  auto ds = make_dataset(10);
  L::DataLoader keep(ds, {.batch_size = 4});
  L::DataLoader drop(ds, {.batch_size = 4, .drop_last = true});
  ASSERT_TRUE(keep.size().has_value());
  EXPECT_EQ(*keep.size(), 3u);
  EXPECT_EQ(*drop.size(), 2u);

  std::vector<int64_t> sizes;
  for (auto& b : keep) sizes.push_back(b.batch_size());
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  sizes.clear();
  for (auto& b : drop) sizes.push_back(b.batch_size());
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));

  L::DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
  EXPECT_EQ(*exact.size(), 2u);
  L::DataLoader big(ds, {.batch_size = 64, .drop_last = true});
  EXPECT_EQ(*big.size(), 0u);
  EXPECT_TRUE(big.begin() == big.end());
  L::DataLoader big_keep(ds, {.batch_size = 64});
  EXPECT_EQ(*big_keep.size(), 1u);
}

TEST(DataLoaderTest, InOrderBatchesHaveTheRightContent) {
  auto ds = make_dataset(7);
  L::DataLoader loader(ds, {.batch_size = 3});
  int64_t expected = 0;
  for (auto& b : loader) {
    ASSERT_EQ(b.size(), 2u);
    for (int64_t r = 0; r < b.batch_size(); ++r, ++expected) {
      EXPECT_EQ(b[1][r].item<int64_t>(), expected);
      EXPECT_EQ(b[0][r][0].item<float>(), static_cast<float>(3 * expected));
    }
  }
  EXPECT_EQ(expected, 7);
}

TEST(DataLoaderTest, EmptyDataset) {
  auto ds = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{torch::zeros({0, 2})});
  for (int workers : {0, 2}) {
    L::DataLoader loader(ds, {.batch_size = 2, .num_workers = workers});
    EXPECT_EQ(*loader.size(), 0u);
    int n = 0;
    for (auto& b : loader) (void)b, ++n;
    EXPECT_EQ(n, 0);
  }
}

// ---- workers -------------------------------------------------------------------------------------

TEST(DataLoaderTest, WorkersPreserveOrder) {
  auto ds = std::make_shared<SlowDataset>(103);
  for (bool shuffle : {false, true}) {
    for (bool drop_last : {false, true}) {
      L::DataLoader base(ds, {.batch_size = 4, .shuffle = shuffle, .drop_last = drop_last, .seed = 11});
      auto reference = field0_rows(base);
      ASSERT_EQ(reference.size(), drop_last ? 25u : 26u);
      for (int workers : {2, 3}) {
        for (int prefetch : {1, 2, 4}) {
          L::DataLoader loader(ds, {.batch_size = 4, .shuffle = shuffle, .num_workers = workers,
                                    .drop_last = drop_last, .prefetch_factor = prefetch, .seed = 11});
          EXPECT_EQ(field0_rows(loader), reference)
              << "workers=" << workers << " prefetch=" << prefetch << " shuffle=" << shuffle;
        }
      }
    }
  }
}

TEST(DataLoaderTest, WorkersGiveIdenticalBatchesForTensorDataset) {
  auto ds = make_dataset(50);
  std::vector<std::vector<L::Batch>> runs;
  for (int workers : {0, 2, 3}) {
    L::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .num_workers = workers, .seed = 5});
    runs.emplace_back();
    for (auto& b : loader) runs.back().push_back(b);
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (size_t i = 0; i < runs[0].size(); ++i)
      for (size_t f = 0; f < 2; ++f) EXPECT_TRUE(runs[r][i][f].equal(runs[0][i][f])) << r << " " << i;
  }
}

TEST(DataLoaderTest, PrefetchIsBounded) {
  // 2 workers * prefetch 3 = 6 batches in flight at most, beyond the one being consumed.
  auto ds = std::make_shared<SlowDataset>(200, std::nullopt, 0us);
  L::DataLoader loader(ds, {.batch_size = 2, .num_workers = 2, .prefetch_factor = 3});
  within(30s, [&] {
    auto it = loader.begin();  // batch 0 taken
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (ds->fetches() < 7 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(ds->fetches(), 1 + 6);
    ++it;  // one more consumed: exactly one more may be fetched
    const auto deadline2 = std::chrono::steady_clock::now() + 5s;
    while (ds->fetches() < 8 && std::chrono::steady_clock::now() < deadline2) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(ds->fetches(), 1 + 6 + 1);
  });
}

TEST(DataLoaderTest, EarlyBreakWithWorkersDoesNotHang) {
  auto ds = std::make_shared<SlowDataset>(400, std::nullopt, 200us);
  within(60s, [&] {
    for (int rep = 0; rep < 20; ++rep) {
      for (int workers : {1, 2, 3}) {
        L::DataLoader loader(ds, {.batch_size = 2, .shuffle = rep % 2 == 1, .num_workers = workers});
        int seen = 0;
        for (auto& b : loader) {
          EXPECT_EQ(b.batch_size(), 2);
          if (++seen == 1 + rep % 3) break;
        }
        EXPECT_EQ(seen, 1 + rep % 3);
      }
    }
    // Abandoning right after begin() and never iterating.
    L::DataLoader loader(ds, {.batch_size = 2, .num_workers = 3, .prefetch_factor = 8});
    for (int rep = 0; rep < 10; ++rep) {
      auto it = loader.begin();
      EXPECT_TRUE(it != loader.end());
    }
  });
}

TEST(DataLoaderTest, WorkerExceptionPropagatesAtItsBatch) {
  // Sample 13 is in batch 3 (batch_size 4): batches 0..2 arrive, then the error.
  auto ds = std::make_shared<SlowDataset>(40, /*throw_at=*/13);
  for (int workers : {0, 2, 3}) {
    within(30s, [&] {
      L::DataLoader loader(ds, {.batch_size = 4, .num_workers = workers});
      std::vector<int64_t> firsts;
      try {
        for (auto& b : loader) firsts.push_back(b[0][0].item<int64_t>());
        ADD_FAILURE() << "no exception with num_workers=" << workers;
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "bad sample 13");
      }
      EXPECT_EQ(firsts, (std::vector<int64_t>{0, 4, 8})) << "num_workers=" << workers;
      // The loader is still usable for another pass (which fails at the same place).
      EXPECT_THROW(for (auto& b : loader) (void)b, std::runtime_error);
    });
  }
}

// ---- shuffling -------------------------------------------------------------------------------------

TEST(DataLoaderTest, ShuffleIsReproducibleAndChangesPerEpoch) {
  auto ds = make_dataset(64);
  L::DataLoader a(ds, {.batch_size = 64, .shuffle = true, .seed = 1234});
  L::DataLoader b(ds, {.batch_size = 64, .shuffle = true, .seed = 1234});
  auto a0 = field0_rows(a);
  auto b0 = field0_rows(b);
  EXPECT_EQ(a0, b0);
  EXPECT_EQ(a.epoch(), 1);
  auto a1 = field0_rows(a);
  EXPECT_NE(a0, a1);  // epoch 1 differs from epoch 0
  EXPECT_EQ(a.epoch(), 2);

  // Each pass is a permutation matching sample_order(seed, epoch).
  for (int64_t epoch : {0, 1, 5}) {
    L::DataLoader loader(ds, {.batch_size = 64, .shuffle = true, .seed = 1234});
    loader.set_epoch(epoch);
    auto batch = *loader.begin();
    auto ids = batch[1];
    auto order = L::sample_order(64, true, 1234, epoch);
    for (int64_t i = 0; i < 64; ++i) EXPECT_EQ(ids[i].item<int64_t>(), static_cast<int64_t>(order[i]));
    std::set<int64_t> unique;
    for (int64_t i = 0; i < 64; ++i) unique.insert(ids[i].item<int64_t>());
    EXPECT_EQ(unique.size(), 64u);
  }
  // Rows stay aligned across fields when shuffled.
  L::DataLoader c(ds, {.batch_size = 10, .shuffle = true, .seed = 3});
  for (auto& batch : c)
    for (int64_t r = 0; r < batch.batch_size(); ++r)
      EXPECT_EQ(batch[0][r][0].item<float>(), 3.0f * static_cast<float>(batch[1][r].item<int64_t>()));
}

TEST(DataLoaderTest, DifferentSeedsGiveDifferentOrders) {
  auto ds = make_dataset(64);
  L::DataLoader a(ds, {.batch_size = 64, .shuffle = true, .seed = 1});
  L::DataLoader b(ds, {.batch_size = 64, .shuffle = true, .seed = 2});
  EXPECT_NE(field0_rows(a), field0_rows(b));
}

TEST(DataLoaderTest, DefaultSeedComesFromTorchManualSeed) {
  auto ds = make_dataset(64);
  torch::manual_seed(99);
  L::DataLoader a(ds, {.batch_size = 64, .shuffle = true});
  torch::manual_seed(99);
  L::DataLoader b(ds, {.batch_size = 64, .shuffle = true});
  L::DataLoader c(ds, {.batch_size = 64, .shuffle = true});  // generator advanced: new seed
  auto ra = field0_rows(a);
  EXPECT_EQ(ra, field0_rows(b));
  EXPECT_NE(ra, field0_rows(c));
}

TEST(DataLoaderTest, WithoutShuffleVisitsInOrder) {
  auto ds = make_dataset(20);
  L::DataLoader shuffled(ds, {.batch_size = 5, .shuffle = true, .num_workers = 1, .seed = 8});
  auto plain = shuffled.without_shuffle();
  EXPECT_TRUE(shuffled.options().shuffle);
  EXPECT_FALSE(plain.options().shuffle);
  EXPECT_EQ(plain.options().batch_size, 5);
  EXPECT_EQ(plain.options().num_workers, 1);
  EXPECT_EQ(plain.dataset(), ds);
  int64_t expected = 0;
  for (auto& b : plain)
    for (int64_t r = 0; r < b.batch_size(); ++r) EXPECT_EQ(b[1][r].item<int64_t>(), expected++);
  EXPECT_EQ(expected, 20);
}

// ---- collate, pin_memory ------------------------------------------------------------------------

TEST(DataLoaderTest, CustomCollateIsCalled) {
  auto ds = make_dataset(10);
  for (int workers : {0, 2}) {
    auto calls = std::make_shared<std::atomic<int>>(0);
    L::DataLoader loader(ds, {.batch_size = 4, .num_workers = workers,
                              .collate_fn = [calls](const std::vector<L::Batch>& samples) {
                                calls->fetch_add(1);
                                auto b = L::default_collate(samples);
                                L::Batch out;
                                out.push_back(b[1] * 10, "scaled");
                                out.push_back(torch::tensor(static_cast<int64_t>(samples.size())), "n");
                                return out;
                              }});
    std::vector<int64_t> ns;
    std::vector<int64_t> firsts;
    for (auto& b : loader) {
      ASSERT_TRUE(b.contains("scaled"));
      ns.push_back(b["n"].item<int64_t>());
      firsts.push_back(b["scaled"][0].item<int64_t>());
    }
    EXPECT_EQ(calls->load(), 3);
    EXPECT_EQ(ns, (std::vector<int64_t>{4, 4, 2}));
    EXPECT_EQ(firsts, (std::vector<int64_t>{0, 40, 80}));
  }
}

TEST(DataLoaderTest, DefaultPathUsesGetBatch) {
  // Without collate_fn the loader asks the dataset for whole batches (get_batch).
  auto ds = std::make_shared<SlowDataset>(9, std::nullopt, 0us);
  L::DataLoader loader(ds, {.batch_size = 4});
  int n = 0;
  for (auto& b : loader) (void)b, ++n;
  EXPECT_EQ(n, 3);
  EXPECT_EQ(ds->fetches(), 3);
}

TEST(DataLoaderTest, PinMemoryIsANoOpWithoutCuda) {
  auto ds = make_dataset(6);
  L::DataLoader pinned(ds, {.batch_size = 3, .num_workers = 1, .pin_memory = true});
  L::DataLoader plain(ds, {.batch_size = 3});
  EXPECT_EQ(field0_rows(pinned), field0_rows(plain));
}

// ---- iterable datasets -------------------------------------------------------------------------

TEST(DataLoaderTest, IterableDatasetBatching) {
  for (int workers : {0, 1, 2}) {
    auto stream = std::make_shared<CountingStream>(10);
    L::DataLoader loader(stream, {.batch_size = 4, .num_workers = workers});
    EXPECT_FALSE(loader.size().has_value());
    EXPECT_EQ(loader.iterable_dataset(), stream);
    EXPECT_EQ(loader.dataset(), nullptr);
    std::vector<int64_t> sizes;
    std::vector<int64_t> ys;
    for (auto& b : loader) {
      EXPECT_EQ(b.names(), (std::vector<std::string>{"x", "y"}));
      EXPECT_EQ(b["x"].size(1), 2);
      sizes.push_back(b.batch_size());
      for (int64_t r = 0; r < b.batch_size(); ++r) ys.push_back(b["y"][r].item<int64_t>());
    }
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2})) << "workers=" << workers;
    EXPECT_EQ(ys, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})) << "workers=" << workers;
    EXPECT_EQ(stream->resets.load(), 1);
    // A second pass resets the stream again.
    int n = 0;
    for (auto& b : loader) (void)b, ++n;
    EXPECT_EQ(n, 3);
    EXPECT_EQ(stream->resets.load(), 2);

    L::DataLoader drop(stream, {.batch_size = 4, .num_workers = workers, .drop_last = true});
    sizes.clear();
    for (auto& b : drop) sizes.push_back(b.batch_size());
    EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4}));
  }
}

TEST(DataLoaderTest, IterableDatasetWithCustomCollate) {
  auto stream = std::make_shared<CountingStream>(5);
  int calls = 0;
  L::DataLoader loader(stream, {.batch_size = 2, .collate_fn = [&](const std::vector<L::Batch>& s) {
                                  ++calls;
                                  return L::Batch{torch::tensor(static_cast<int64_t>(s.size()))};
                                }});
  std::vector<int64_t> counts;
  for (auto& b : loader) counts.push_back(b[0].item<int64_t>());
  EXPECT_EQ(counts, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(calls, 3);
}

TEST(DataLoaderTest, IterableDatasetErrorsAndEarlyBreak) {
  for (int workers : {0, 2}) {
    within(30s, [&] {
      auto broken = std::make_shared<CountingStream>(20, /*throw_at=*/6);
      L::DataLoader loader(broken, {.batch_size = 4, .num_workers = workers});
      int batches = 0;
      try {
        for (auto& b : loader) (void)b, ++batches;
        ADD_FAILURE() << "no exception";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "stream broke at sample 6");
      }
      EXPECT_EQ(batches, 1);

      auto endless = std::make_shared<CountingStream>(1'000'000);
      L::DataLoader big(endless, {.batch_size = 2, .num_workers = workers, .prefetch_factor = 2});
      for (int rep = 0; rep < 10; ++rep) {
        int seen = 0;
        for (auto& b : big) {
          if (++seen == 3) break;
          (void)b;
        }
        EXPECT_EQ(seen, 3);
      }
    });
  }
}

// ---- validation ----------------------------------------------------------------------------------

TEST(DataLoaderTest, InvalidOptionsNameTheOptionAndValue) {
  auto ds = make_dataset(4);
  auto msg = error_of([&] { L::DataLoader(ds, {.batch_size = 0}); });
  EXPECT_TRUE(contains(msg, "batch_size=0")) << msg;
  EXPECT_TRUE(contains(msg, ">= 1")) << msg;
  msg = error_of([&] { L::DataLoader(ds, {.num_workers = -2}); });
  EXPECT_TRUE(contains(msg, "num_workers=-2")) << msg;
  EXPECT_TRUE(contains(msg, ">= 0")) << msg;
  msg = error_of([&] { L::DataLoader(ds, {.prefetch_factor = 0}); });
  EXPECT_TRUE(contains(msg, "prefetch_factor=0")) << msg;
  msg = error_of([&] { L::DataLoader(std::shared_ptr<L::Dataset>(), {}); });
  EXPECT_TRUE(contains(msg, "dataset")) << msg;
  msg = error_of([&] { L::DataLoader(std::shared_ptr<L::IterableDataset>(), {}); });
  EXPECT_TRUE(contains(msg, "dataset")) << msg;
  auto stream = std::make_shared<CountingStream>(3);
  msg = error_of([&] { L::DataLoader(stream, {.shuffle = true}); });
  EXPECT_TRUE(contains(msg, "shuffle=true")) << msg;
  EXPECT_TRUE(contains(msg, "IterableDataset")) << msg;
  EXPECT_THROW(L::DataLoader(ds, {.batch_size = -1}), L::MisconfigurationException);
}

TEST(DataLoaderTest, CopiesShareTheDatasetAndDataLoadersConvert) {
  auto ds = make_dataset(8);
  L::DataLoader a(ds, {.batch_size = 2, .shuffle = true, .seed = 3});
  L::DataLoader b = a;
  EXPECT_EQ(a.dataset(), b.dataset());
  EXPECT_EQ(field0_rows(a), field0_rows(b));  // same seed, both at epoch 0
  L::DataLoaders one = a;
  EXPECT_EQ(one.size(), 1u);
  L::DataLoaders two{a, b};
  EXPECT_EQ(two.size(), 2u);
  EXPECT_TRUE(L::DataLoaders().empty());
}

TEST(DataLoaderTest, DataModuleDefaultsAreEmpty) {
  struct DM : L::LightningDataModule {
    L::DataLoaders train_dataloader() override { return L::DataLoader(make_dataset(4), {.batch_size = 2}); }
  } dm;
  dm.prepare_data();
  dm.setup("fit");
  EXPECT_EQ(dm.train_dataloader().size(), 1u);
  EXPECT_EQ(*dm.train_dataloader().loaders[0].size(), 2u);
  EXPECT_TRUE(dm.val_dataloader().empty());
  EXPECT_TRUE(dm.state_dict().empty());
  dm.teardown("fit");
}

// ---- CUDA (skipped by tests/main.cpp when no GPU is available) -------------------------------

TEST(DataLoaderTest, PinMemory_CUDA) {
  auto ds = make_dataset(10);
  for (int workers : {0, 2}) {
    L::DataLoader loader(ds, {.batch_size = 4, .num_workers = workers, .pin_memory = true});
    int n = 0;
    for (auto& b : loader) {
      ++n;
      for (const auto& f : b.fields()) EXPECT_TRUE(f.is_pinned()) << "num_workers=" << workers;
      auto on_gpu = b.to(torch::Device(torch::kCUDA), /*non_blocking=*/true);
      EXPECT_TRUE(on_gpu[0].is_cuda());
      EXPECT_TRUE(on_gpu[1].cpu().equal(b[1]));
    }
    EXPECT_EQ(n, 3);
    L::DataLoader unpinned(ds, {.batch_size = 4, .num_workers = workers});
    for (auto& b : unpinned) EXPECT_FALSE(b[0].is_pinned());
  }
}

TEST(TensorDatasetTest, CudaTensors_CUDA) {
  auto x = torch::arange(12, torch::kFloat).reshape({6, 2}).to(torch::kCUDA);
  auto ds = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x});
  auto b = ds->get_batch({5, 1});
  EXPECT_TRUE(b[0].is_cuda());
  EXPECT_TRUE(b[0].cpu().equal(torch::tensor({{10.0f, 11.0f}, {2.0f, 3.0f}})));
  L::DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .num_workers = 2, .seed = 1});
  int64_t rows = 0;
  for (auto& batch : loader) {
    EXPECT_TRUE(batch[0].is_cuda());
    rows += batch.batch_size();
  }
  EXPECT_EQ(rows, 6);
}
