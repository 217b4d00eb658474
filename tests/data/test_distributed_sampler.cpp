#include "helpers/errors.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/dataset.h"
#include "lightning/data/sampler.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

// C++20 designated initializers that leave members at their defaults (GCC warns under -Wextra).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace L = lightning;

using lightning::testing::contains;
using lightning::testing::error_of;

namespace {

using Indices = std::vector<size_t>;

/// Every rank's indices for one configuration.
std::vector<Indices> all_ranks(size_t n, int64_t replicas, int64_t epoch, bool shuffle, uint64_t seed,
                               bool drop_last = false) {
  std::vector<Indices> out;
  for (int64_t r = 0; r < replicas; ++r) {
    L::DistributedSampler s({.num_replicas = replicas, .rank = r, .shuffle = shuffle, .seed = seed,
                             .drop_last = drop_last});
    out.push_back(s.indices(n, epoch));
    EXPECT_EQ(out.back().size(), s.length(n)) << "rank " << r;
  }
  return out;
}

Indices prefix(const Indices& v, size_t k) { return Indices(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k)); }

size_t sum(const Indices& v) { return std::accumulate(v.begin(), v.end(), size_t{0}); }

/// Sample i is {x: i}.
std::shared_ptr<L::TensorDataset> index_dataset(int64_t n) {
  return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{torch::arange(n)});
}

/// The sample values of every batch of one pass.
std::vector<Indices> batches(L::DataLoader& loader) {
  std::vector<Indices> out;
  for (auto& batch : loader) {
    auto t = batch[0].to(torch::kLong).contiguous();
    out.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }
  return out;
}

Indices flatten(const std::vector<Indices>& bs) {
  Indices out;
  for (const auto& b : bs) out.insert(out.end(), b.begin(), b.end());
  return out;
}

/// A user's sampler: the dataset backwards, rotated by the epoch.
class ReversedSampler : public L::Sampler {
 public:
  Indices indices(size_t n, int64_t epoch) const override {
    Indices out(n);
    for (size_t i = 0; i < n; ++i) out[i] = (n - 1 - i + static_cast<size_t>(epoch)) % n;
    return out;
  }
  size_t length(size_t n) const override { return n; }
};

/// A sampler whose indices() disagrees with its length().
class LyingSampler : public L::Sampler {
 public:
  Indices indices(size_t, int64_t) const override { return {0, 1}; }
  size_t length(size_t) const override { return 3; }
};

}  // namespace

// ---- golden values from PyTorch ----------------------------------------------------------------
//
// Produced with Debian's /usr/bin/python3 and torch 1.13 (randperm for these sizes is unchanged
// in 2.x):
//
//   import torch
//   from torch.utils.data.distributed import DistributedSampler as DS
//   def ranks(n, R, epoch=0, **kw):
//       out = []
//       for r in range(R):
//           s = DS(range(n), num_replicas=R, rank=r, **kw)
//           s.set_epoch(epoch)
//           out.append(list(s))
//       return out
//   ranks(10, 3, 0, shuffle=True, seed=0)                  # and the other cases below
//   f = ranks(1000, 4, 0, shuffle=True, seed=0)
//   [x[:16] for x in f], [len(x) for x in f], [sum(x) for x in f]

TEST(DistributedSamplerTest, MatchesPyTorchShuffledEpochs) {
  EXPECT_EQ(all_ranks(10, 3, 0, true, 0),
            (std::vector<Indices>{{4, 5, 0, 2}, {1, 3, 8, 4}, {7, 9, 6, 1}}));
  EXPECT_EQ(all_ranks(10, 3, 1, true, 0),
            (std::vector<Indices>{{5, 2, 9, 4}, {6, 0, 3, 5}, {1, 8, 7, 6}}));
}

TEST(DistributedSamplerTest, MatchesPyTorchDropLast) {
  EXPECT_EQ(all_ranks(7, 4, 0, true, 0, /*drop_last=*/false),
            (std::vector<Indices>{{4, 2}, {0, 6}, {5, 1}, {3, 4}}));
  EXPECT_EQ(all_ranks(7, 4, 0, true, 0, /*drop_last=*/true),
            (std::vector<Indices>{{4}, {0}, {5}, {3}}));
}

TEST(DistributedSamplerTest, MatchesPyTorchPaddingLongerThanTheDataset) {
  // n=2, 5 replicas: the padding (3) is longer than the list, which is repeated.
  const std::vector<Indices> expected{{0}, {1}, {0}, {1}, {0}};
  EXPECT_EQ(all_ranks(2, 5, 0, true, 0), expected);
  EXPECT_EQ(all_ranks(2, 5, 0, false, 0), expected);
  // drop_last with fewer samples than replicas leaves every rank empty.
  EXPECT_EQ(all_ranks(2, 5, 0, true, 0, /*drop_last=*/true), (std::vector<Indices>(5)));
}

TEST(DistributedSamplerTest, MatchesPyTorchWithoutShuffle) {
  EXPECT_EQ(all_ranks(10, 3, 0, false, 0),
            (std::vector<Indices>{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}}));
  // The epoch and seed do not matter without shuffle.
  EXPECT_EQ(all_ranks(10, 3, 7, false, 99), all_ranks(10, 3, 0, false, 0));
}

TEST(DistributedSamplerTest, MatchesPyTorchSeedPlusEpoch) {
  const std::vector<Indices> seed42{{2, 8, 0, 7}, {6, 4, 9, 2}, {1, 5, 3, 6}};
  EXPECT_EQ(all_ranks(10, 3, 0, true, 42), seed42);
  // The generator is seeded with seed + epoch: seed 40 in epoch 2 is seed 42 in epoch 0.
  EXPECT_EQ(all_ranks(10, 3, 2, true, 40), seed42);
}

TEST(DistributedSamplerTest, MatchesPyTorchOnALargerDataset) {
  auto f = all_ranks(1000, 4, 0, true, 0);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(prefix(f[0], 16), (Indices{44, 947, 561, 756, 256, 15, 272, 385, 51, 706, 378, 343, 486, 165, 295, 799}));
  EXPECT_EQ(prefix(f[1], 16), (Indices{37, 209, 264, 928, 19, 442, 216, 23, 807, 630, 979, 362, 503, 504, 511, 467}));
  EXPECT_EQ(prefix(f[2], 16), (Indices{675, 719, 261, 158, 802, 483, 971, 241, 989, 237, 176, 869, 590, 61, 204, 873}));
  EXPECT_EQ(prefix(f[3], 16), (Indices{775, 500, 825, 726, 562, 645, 548, 121, 905, 794, 710, 950, 814, 690, 792, 646}));
  for (const auto& part : f) EXPECT_EQ(part.size(), 250u);
  EXPECT_EQ(sum(f[0]), 124062u);
  EXPECT_EQ(sum(f[1]), 124614u);
  EXPECT_EQ(sum(f[2]), 124130u);
  EXPECT_EQ(sum(f[3]), 126694u);

  // 1000 over 3 ranks pads 2; seed 1234, epoch 5.
  auto g = all_ranks(1000, 3, 5, true, 1234);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(prefix(g[0], 16), (Indices{619, 115, 409, 224, 607, 245, 786, 799, 575, 210, 910, 439, 460, 678, 569, 936}));
  EXPECT_EQ(prefix(g[1], 16), (Indices{841, 707, 404, 705, 718, 67, 939, 290, 669, 143, 341, 944, 782, 868, 715, 909}));
  EXPECT_EQ(prefix(g[2], 16), (Indices{293, 661, 13, 274, 776, 697, 775, 920, 347, 295, 462, 423, 554, 958, 693, 82}));
  for (const auto& part : g) EXPECT_EQ(part.size(), 334u);
  EXPECT_EQ(sum(g[0]), 175090u);
  EXPECT_EQ(sum(g[1]), 167359u);
  EXPECT_EQ(sum(g[2]), 158511u);
  EXPECT_EQ(g[0].back(), 942u);
  EXPECT_EQ(g[1].back(), 619u);  // padding: the head of the permutation again
  EXPECT_EQ(g[2].back(), 841u);
}

TEST(DistributedSamplerTest, LengthsAsPyTorch) {
  auto length = [](size_t n, int64_t replicas, bool drop_last) {
    return L::DistributedSampler({.num_replicas = replicas, .rank = 0, .drop_last = drop_last}).length(n);
  };
  EXPECT_EQ(length(10, 3, false), 4u);
  EXPECT_EQ(length(10, 3, true), 3u);
  EXPECT_EQ(length(12, 3, true), 4u);
  EXPECT_EQ(length(2, 5, false), 1u);
  EXPECT_EQ(length(2, 5, true), 0u);
  EXPECT_EQ(length(0, 4, false), 0u);
  EXPECT_EQ(length(0, 4, true), 0u);
  EXPECT_TRUE(L::DistributedSampler({.num_replicas = 4, .rank = 3}).indices(0, 0).empty());
}

TEST(DistributedSamplerTest, InvalidRankOrReplicasNamesTheValueAndRange) {
  auto msg = error_of([] { L::DistributedSampler({.num_replicas = 2, .rank = 2}); });
  EXPECT_TRUE(contains(msg, "Invalid rank 2, rank should be in the interval [0, 1]")) << msg;
  msg = error_of([] { L::DistributedSampler({.num_replicas = 3, .rank = -1}); });
  EXPECT_TRUE(contains(msg, "Invalid rank -1, rank should be in the interval [0, 2]")) << msg;
  msg = error_of([] { L::DistributedSampler({.num_replicas = 0, .rank = 0}); });
  EXPECT_TRUE(contains(msg, "Invalid num_replicas 0")) << msg;
  EXPECT_TRUE(contains(msg, ">= 1")) << msg;
  msg = error_of([] { L::UnrepeatedDistributedSampler({.num_replicas = 4, .rank = 4}); });
  EXPECT_TRUE(contains(msg, "UnrepeatedDistributedSampler")) << msg;
  EXPECT_TRUE(contains(msg, "Invalid rank 4, rank should be in the interval [0, 3]")) << msg;
  msg = error_of([] {
    L::DistributedSamplerWrapper(std::make_shared<ReversedSampler>(), {.num_replicas = 2, .rank = 5});
  });
  EXPECT_TRUE(contains(msg, "DistributedSamplerWrapper: Invalid rank 5")) << msg;
  msg = error_of([] { L::DistributedSamplerWrapper(nullptr, {.num_replicas = 2, .rank = 0}); });
  EXPECT_TRUE(contains(msg, "sampler=nullptr")) << msg;
}

// ---- DistributedSamplerWrapper -------------------------------------------------------------------

TEST(DistributedSamplerWrapperTest, ShardsTheUserSamplersOrder) {
  auto user = std::make_shared<ReversedSampler>();
  // Golden values: DS(list(reversed(range(8))), num_replicas=3, rank=r, shuffle=..., seed=0)
  // with set_epoch(0), mapped through the list (what Lightning's wrapper yields).
  std::vector<Indices> shuffled, in_order;
  for (int64_t r = 0; r < 3; ++r) {
    L::DistributedSamplerWrapper s(user, {.num_replicas = 3, .rank = r});
    EXPECT_EQ(s.length(8), 3u);
    shuffled.push_back(s.indices(8, 0));
    L::DistributedSamplerWrapper plain(user, {.num_replicas = 3, .rank = r, .shuffle = false});
    in_order.push_back(plain.indices(8, 0));
  }
  EXPECT_EQ(shuffled, (std::vector<Indices>{{3, 4, 6}, {7, 5, 1}, {0, 2, 3}}));
  EXPECT_EQ(in_order, (std::vector<Indices>{{7, 4, 1}, {6, 3, 0}, {5, 2, 7}}));

  // The user's sampler sees the epoch too.
  L::DistributedSamplerWrapper plain(user, {.num_replicas = 3, .rank = 0, .shuffle = false});
  EXPECT_EQ(plain.indices(8, 1), (Indices{0, 5, 2}));
}

TEST(DistributedSamplerWrapperTest, RejectsASamplerWhoseLengthDisagrees) {
  L::DistributedSamplerWrapper s(std::make_shared<LyingSampler>(), {.num_replicas = 2, .rank = 0});
  auto msg = error_of([&] { s.indices(5, 0); });
  EXPECT_TRUE(contains(msg, "returned 2 indices")) << msg;
  EXPECT_TRUE(contains(msg, "length() is 3")) << msg;
}

// ---- UnrepeatedDistributedSampler --------------------------------------------------------------

TEST(UnrepeatedDistributedSamplerTest, NoPaddingAndUnevenLengths) {
  std::vector<Indices> parts;
  std::vector<size_t> lengths;
  for (int64_t r = 0; r < 4; ++r) {
    L::UnrepeatedDistributedSampler s({.num_replicas = 4, .rank = r, .shuffle = false});
    parts.push_back(s.indices(10, 0));
    lengths.push_back(s.length(10));
  }
  EXPECT_EQ(parts, (std::vector<Indices>{{0, 4, 8}, {1, 5, 9}, {2, 6}, {3, 7}}));
  EXPECT_EQ(lengths, (std::vector<size_t>{3, 3, 2, 2}));
  // Fewer samples than replicas: the last ranks get nothing.
  EXPECT_EQ(L::UnrepeatedDistributedSampler({.num_replicas = 4, .rank = 3}).length(2), 0u);
  EXPECT_EQ(L::UnrepeatedDistributedSampler({.num_replicas = 4, .rank = 1}).length(2), 1u);
  EXPECT_EQ(L::UnrepeatedDistributedSampler({.num_replicas = 4, .rank = 0}).length(0), 0u);
}

TEST(UnrepeatedDistributedSamplerTest, ShuffleSeedsWithTheEpochLikeLightning) {
  // Lightning 2.2.5: g.manual_seed(self.epoch); randperm(n, generator=g)[rank::R]:
  //   g = torch.Generator(); g.manual_seed(3); torch.randperm(10, generator=g).tolist()[r::4]
  std::vector<Indices> parts;
  for (int64_t r = 0; r < 4; ++r)
    parts.push_back(L::UnrepeatedDistributedSampler({.num_replicas = 4, .rank = r}).indices(10, 3));
  EXPECT_EQ(parts, (std::vector<Indices>{{6, 8, 2}, {0, 5, 4}, {3, 1}, {7, 9}}));
  Indices all = flatten(parts);
  std::sort(all.begin(), all.end());
  Indices expected(10);
  std::iota(expected.begin(), expected.end(), size_t{0});
  EXPECT_EQ(all, expected);
}

TEST(UnrepeatedDistributedSamplerTest, WrapperShardsTheUserSampler) {
  auto user = std::make_shared<ReversedSampler>();
  std::vector<Indices> parts;
  for (int64_t r = 0; r < 3; ++r) {
    L::UnrepeatedDistributedSamplerWrapper s(user, {.num_replicas = 3, .rank = r, .shuffle = false});
    parts.push_back(s.indices(7, 0));
    EXPECT_EQ(parts.back().size(), s.length(7));
  }
  EXPECT_EQ(parts, (std::vector<Indices>{{6, 3, 0}, {5, 2}, {4, 1}}));
}

// ---- with the DataLoader -----------------------------------------------------------------------

TEST(DistributedSamplerDataLoaderTest, RanksCoverTheDatasetWithPaddingDuplicates) {
  auto ds = index_dataset(10);
  std::multiset<size_t> seen;
  for (int64_t r = 0; r < 3; ++r) {
    auto sampler = std::make_shared<L::DistributedSampler>(
        L::DistributedSampler::Options{.num_replicas = 3, .rank = r, .seed = 0});
    L::DataLoader loader(ds, {.batch_size = 3, .sampler = sampler, .num_workers = static_cast<int>(r % 2)});
    ASSERT_EQ(loader.sampler(), sampler);
    ASSERT_TRUE(loader.size().has_value());
    EXPECT_EQ(*loader.size(), 2u);  // 4 samples per rank in batches of 3
    auto bs = batches(loader);
    ASSERT_EQ(bs.size(), 2u);
    EXPECT_EQ(bs[0].size(), 3u);
    EXPECT_EQ(bs[1].size(), 1u);
    // The loader yields exactly the sampler's order for the epoch (PyTorch's golden values).
    EXPECT_EQ(flatten(bs), sampler->indices(10, 0));
    for (size_t i : flatten(bs)) seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 12u);
  for (size_t i = 0; i < 10; ++i) EXPECT_GE(seen.count(i), 1u) << i;
  // The padding repeats the head of epoch 0's permutation [4, 1, 7, 5, ...].
  EXPECT_EQ(seen.count(4), 2u);
  EXPECT_EQ(seen.count(1), 2u);

  // drop_last on the loader applies to the rank's batches.
  auto sampler = std::make_shared<L::DistributedSampler>(L::DistributedSampler::Options{.num_replicas = 3, .rank = 0});
  L::DataLoader drop(ds, {.batch_size = 3, .sampler = sampler, .drop_last = true});
  EXPECT_EQ(*drop.size(), 1u);
  EXPECT_EQ(batches(drop), (std::vector<Indices>{{4, 5, 0}}));
}

TEST(DistributedSamplerDataLoaderTest, EpochChangesTheOrder) {
  auto ds = index_dataset(10);
  auto sampler = std::make_shared<L::DistributedSampler>(L::DistributedSampler::Options{.num_replicas = 3, .rank = 1});
  L::DataLoader loader(ds, {.batch_size = 4, .sampler = sampler});
  EXPECT_EQ(flatten(batches(loader)), (Indices{1, 3, 8, 4}));  // epoch 0
  EXPECT_EQ(loader.epoch(), 1);
  EXPECT_EQ(flatten(batches(loader)), (Indices{6, 0, 3, 5}));  // epoch 1
  loader.set_epoch(0);
  EXPECT_EQ(flatten(batches(loader)), (Indices{1, 3, 8, 4}));
  // Resuming mid-epoch skips the rank's first batches.
  L::DataLoader small(ds, {.batch_size = 1, .sampler = sampler});
  small.set_epoch(1);
  Indices rest;
  for (auto it = small.begin_at(2); it != small.end(); ++it)
    rest.push_back(static_cast<size_t>((*it)[0].item<int64_t>()));
  EXPECT_EQ(rest, (Indices{3, 5}));
}

TEST(DistributedSamplerDataLoaderTest, WithSamplerAndWithoutShuffle) {
  auto ds = index_dataset(7);
  L::DataLoader shuffled(ds, {.batch_size = 2, .shuffle = true, .seed = 5});
  auto sampler = std::make_shared<L::DistributedSampler>(L::DistributedSampler::Options{.num_replicas = 4, .rank = 3});
  L::DataLoader dist = shuffled.with_sampler(sampler);
  EXPECT_FALSE(dist.options().shuffle);
  EXPECT_EQ(dist.sampler(), sampler);
  EXPECT_EQ(shuffled.sampler(), nullptr);  // the original is unchanged
  EXPECT_TRUE(shuffled.options().shuffle);
  EXPECT_EQ(*dist.size(), 1u);
  EXPECT_EQ(batches(dist), (std::vector<Indices>{{3, 4}}));  // rank 3 of n=7, R=4, seed 0

  // without_shuffle keeps the sampler.
  L::DataLoader kept = dist.without_shuffle();
  EXPECT_EQ(kept.sampler(), sampler);
  kept.set_epoch(0);  // the pass above moved the copy's epoch on
  EXPECT_EQ(batches(kept), (std::vector<Indices>{{3, 4}}));

  // with_sampler(nullptr) drops it: in order.
  L::DataLoader plain = dist.with_sampler(nullptr);
  EXPECT_EQ(plain.sampler(), nullptr);
  EXPECT_EQ(*plain.size(), 4u);
  EXPECT_EQ(flatten(batches(plain)), (Indices{0, 1, 2, 3, 4, 5, 6}));
}

TEST(DistributedSamplerDataLoaderTest, WrapperAndUnrepeatedInALoader) {
  auto ds = index_dataset(7);
  auto user = std::make_shared<ReversedSampler>();
  const L::DataLoader base(ds, {.batch_size = 3, .sampler = user});  // stays at epoch 0
  L::DataLoader reversed = base;
  EXPECT_EQ(flatten(batches(reversed)), (Indices{6, 5, 4, 3, 2, 1, 0}));

  Indices all;
  std::vector<size_t> sizes;
  for (int64_t r = 0; r < 3; ++r) {
    auto loader = base.with_sampler(std::make_shared<L::UnrepeatedDistributedSamplerWrapper>(
        user, L::UnrepeatedDistributedSampler::Options{.num_replicas = 3, .rank = r, .shuffle = false}));
    sizes.push_back(*loader.size());
    auto part = flatten(batches(loader));
    all.insert(all.end(), part.begin(), part.end());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1}));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (Indices{0, 1, 2, 3, 4, 5, 6}));  // each sample exactly once

  auto wrapped = base.with_sampler(std::make_shared<L::DistributedSamplerWrapper>(
      user, L::DistributedSampler::Options{.num_replicas = 2, .rank = 1, .shuffle = false}));
  EXPECT_EQ(*wrapped.size(), 2u);  // 4 of the 8 padded positions
  EXPECT_EQ(flatten(batches(wrapped)), (Indices{5, 3, 1, 6}));
}

TEST(DistributedSamplerDataLoaderTest, SamplerOptionErrors) {
  auto sampler = std::make_shared<L::DistributedSampler>(L::DistributedSampler::Options{.num_replicas = 2, .rank = 0});
  auto msg = error_of([&] { L::DataLoader(index_dataset(4), {.shuffle = true, .sampler = sampler}); });
  EXPECT_TRUE(contains(msg, "sampler option is mutually exclusive with shuffle")) << msg;

  class Stream : public L::IterableDataset {
   public:
    void reset() override {}
    std::optional<L::Batch> next() override { return std::nullopt; }
  };
  auto stream = std::make_shared<Stream>();
  msg = error_of([&] { L::DataLoader(stream, {.sampler = sampler}); });
  EXPECT_TRUE(contains(msg, "DataLoader with IterableDataset: expected unspecified sampler option")) << msg;
  L::DataLoader ok(stream, {});
  msg = error_of([&] { (void)ok.with_sampler(sampler); });
  EXPECT_TRUE(contains(msg, "expected unspecified sampler option")) << msg;
  EXPECT_EQ(error_of([&] { (void)ok.with_sampler(nullptr); }), "<no exception>");
}
