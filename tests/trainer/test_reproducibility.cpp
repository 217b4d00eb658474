// seed_everything and worker seeds, deterministic/benchmark, detect_anomaly.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <set>

using namespace lightning;
using namespace lightning::testing;

TEST(Reproducibility, WorkerSeedsFollowLightningsSequenceAndDifferPerWorkerAndRank) {
  silenced([] { seed_everything(42, /*workers=*/true); });
  EXPECT_STREQ(std::getenv("PL_GLOBAL_SEED"), "42");
  EXPECT_STREQ(std::getenv("PL_SEED_WORKERS"), "1");
  // Values of Lightning's `_generate_seed_sequence(42, worker_id, rank, count=1)`.
  EXPECT_EQ(worker_seed(1, 0), 9562314051781722113ULL);
  EXPECT_EQ(worker_seed(0, 3), 11059919199148211592ULL);
  std::set<uint64_t> seeds;
  for (int w = 0; w < 4; ++w)
    for (int r = 0; r < 4; ++r) seeds.insert(worker_seed(w, r));
  EXPECT_EQ(seeds.size(), 16u);
  EXPECT_FALSE(get_worker_info().has_value());  // not a worker thread
}

TEST(Reproducibility, DataLoaderWorkerThreadsSeeTheirInfo) {
  struct Recording : Dataset {
    mutable std::mutex mutex;
    mutable std::map<int64_t, uint64_t> seen;  // worker id -> seed
    size_t size() const override { return 32; }
    Batch get(size_t i) const override {
      auto info = get_worker_info();
      EXPECT_TRUE(info.has_value());
      std::lock_guard<std::mutex> lock(mutex);
      if (info) seen[info->id] = info->seed;
      return Batch{torch::full({1}, static_cast<float>(i))};
    }
  };
  silenced([] { seed_everything(7, true); });
  auto data = std::make_shared<Recording>();
  DataLoader loader(data, {.batch_size = 2, .num_workers = 3});
  for (auto& batch : loader) (void)batch;
  ASSERT_FALSE(data->seen.empty());
  for (const auto& [id, seed] : data->seen) {
    EXPECT_LT(id, 3);
    EXPECT_EQ(seed, worker_seed(id));
  }
  silenced([] { seed_everything(7, false); });
  data->seen.clear();
  for (auto& batch : DataLoader(data, {.batch_size = 2, .num_workers = 2})) (void)batch;
  for (const auto& [id, seed] : data->seen) EXPECT_EQ(seed, 7u + static_cast<uint64_t>(id));  // PyTorch's base + id
}

TEST(Reproducibility, WorkerGeneratorsMakeAugmentationReproducibleAndDistinct) {
  // A "random augmentation": noise from the worker's own generator, plus the sample index.
  struct Augmented : Dataset {
    size_t size() const override { return 24; }
    Batch get(size_t i) const override {
      return Batch{torch::rand({3}, worker_generator()) + static_cast<float>(i)};
    }
  };
  auto epoch_batches = [](DataLoader& loader, size_t first = 0) {
    std::vector<torch::Tensor> out;
    for (auto it = loader.begin_at(first); it != loader.end(); ++it) out.push_back((*it)[0]);
    return out;
  };
  auto data = std::make_shared<Augmented>();
  auto run = [&] {
    silenced([] { seed_everything(11, true); });
    DataLoader loader(data, {.batch_size = 2, .num_workers = 3});
    auto first = epoch_batches(loader);
    auto second = epoch_batches(loader);
    return std::pair{first, second};
  };
  const auto [a0, a1] = run();
  const auto [b0, b1] = run();
  ASSERT_EQ(a0.size(), 12u);
  for (size_t k = 0; k < a0.size(); ++k) {
    EXPECT_TRUE(torch::equal(a0[k], b0[k])) << "batch " << k << " differs between two runs";
    EXPECT_TRUE(torch::equal(a1[k], b1[k])) << "batch " << k << " of epoch 1 differs between two runs";
    EXPECT_FALSE(torch::equal(a0[k], a1[k])) << "batch " << k << " repeats its noise in the next epoch";
  }
  // Noise (the fractional part) differs between batches, hence between the workers fetching them.
  std::set<float> noise;
  for (const auto& batch : a0) noise.insert((batch - batch.floor()).flatten()[0].item<float>());
  EXPECT_EQ(noise.size(), a0.size());
  // A loader resumed mid-epoch sees the same augmented batches as the uninterrupted pass.
  silenced([] { seed_everything(11, true); });
  DataLoader resumed(data, {.batch_size = 2, .num_workers = 3});
  const auto tail = epoch_batches(resumed, 5);
  ASSERT_EQ(tail.size(), 7u);
  for (size_t k = 0; k < tail.size(); ++k) EXPECT_TRUE(torch::equal(tail[k], a0[k + 5])) << "batch " << k + 5;
  EXPECT_EQ(worker_generator().current_seed(), at::detail::getDefaultCPUGenerator().current_seed());
}

TEST(Reproducibility, DeterministicAndBenchmarkSetLibTorchsGlobalContext) {
  auto& ctx = at::globalContext();
  const bool det = ctx.deterministicAlgorithms(), warn = ctx.deterministicAlgorithmsWarnOnly();
  const bool bench = ctx.benchmarkCuDNN();
  {
    Trainer t({.deterministic = true});
    EXPECT_TRUE(ctx.deterministicAlgorithms());
    EXPECT_FALSE(ctx.deterministicAlgorithmsWarnOnly());
    EXPECT_FALSE(ctx.benchmarkCuDNN());  // deterministic implies benchmark=false
    EXPECT_STREQ(std::getenv("CUBLAS_WORKSPACE_CONFIG"), ":4096:8");
  }
  {
    Trainer t({.deterministic = "warn", .benchmark = true});
    EXPECT_TRUE(ctx.deterministicAlgorithms());
    EXPECT_TRUE(ctx.deterministicAlgorithmsWarnOnly());
    EXPECT_TRUE(ctx.benchmarkCuDNN());
  }
  {
    Trainer t({.deterministic = false, .benchmark = false});
    EXPECT_FALSE(ctx.deterministicAlgorithms());
    EXPECT_FALSE(ctx.benchmarkCuDNN());
  }
  EXPECT_TRUE(contains(error_of([] { Trainer t({.deterministic = "always"}); }), "deterministic='always'"));
  ctx.setDeterministicAlgorithms(det, warn);
  ctx.setBenchmarkCuDNN(bench);
}

TEST(Reproducibility, DetectAnomalyNamesTheBackwardThatProducedNan) {
  struct NanBackward : BoringModel {
    StepOutput training_step(const Batch& b, int64_t) override {
      return (layer->forward(b[0]) * 0 - 1).sqrt().sum();  // sqrt(-1): nan forward and backward
    }
  };
  Trainer plain(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0}));
  EXPECT_NO_THROW(plain.fit(std::make_shared<NanBackward>()));
  Trainer anomaly(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0, .detect_anomaly = true}));
  auto err = error_of([&] { silenced([&] { anomaly.fit(std::make_shared<NanBackward>()); }); });
  EXPECT_TRUE(contains(err, "SqrtBackward")) << err;
  EXPECT_TRUE(contains(err, "nan")) << err;
}
