#include "helpers/errors.h"
#include "lightning/data/collate.h"
#include "lightning/data/dataset.h"
#include "lightning/data/sampler.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <numeric>
#include <string>

namespace L = lightning;

using lightning::testing::contains;
using lightning::testing::error_of;

namespace {

}  // namespace

// ---- default_collate -------------------------------------------------------------------------

TEST(CollateTest, StacksFieldsAndKeepsNames) {
  std::vector<L::Batch> samples;
  for (int i = 0; i < 3; ++i)
    samples.push_back(L::Batch({{"x", torch::full({2}, static_cast<float>(i))},
                                {"y", torch::tensor(static_cast<int64_t>(i))}}));
  auto b = L::default_collate(samples);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b["x"].sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(b["y"].sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(b["y"].scalar_type(), torch::kLong);
  EXPECT_TRUE(b["y"].equal(torch::tensor({0, 1, 2}, torch::kLong)));
  EXPECT_EQ(b["x"][2][1].item<float>(), 2.0f);
  EXPECT_EQ(b.batch_size(), 3);
}

TEST(CollateTest, SingleSample) {
  auto b = L::default_collate({L::Batch{torch::ones({4, 4})}});
  EXPECT_EQ(b[0].sizes(), (std::vector<int64_t>{1, 4, 4}));
}

TEST(CollateTest, FieldCountMismatchNamesSample) {
  std::vector<L::Batch> samples{L::Batch{torch::zeros({2}), torch::zeros({})},
                                L::Batch{torch::zeros({2}), torch::zeros({})},
                                L::Batch{torch::zeros({2})}};
  EXPECT_THROW(L::default_collate(samples), L::MisconfigurationException);
  auto msg = error_of([&] { L::default_collate(samples); });
  EXPECT_TRUE(contains(msg, "default_collate")) << msg;
  EXPECT_TRUE(contains(msg, "sample 2 has 1 field(s)")) << msg;
  EXPECT_TRUE(contains(msg, "sample 0 has 2")) << msg;
}

TEST(CollateTest, ShapeMismatchNamesSampleFieldAndShapes) {
  std::vector<L::Batch> samples{L::Batch({{"x", torch::zeros({3})}, {"y", torch::zeros({2, 2})}}),
                                L::Batch({{"x", torch::zeros({3})}, {"y", torch::zeros({2, 3})}})};
  auto msg = error_of([&] { L::default_collate(samples); });
  EXPECT_TRUE(contains(msg, "field 1 ('y')")) << msg;
  EXPECT_TRUE(contains(msg, "sample 1")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 3]")) << msg;
  EXPECT_TRUE(contains(msg, "[2, 2]")) << msg;
}

TEST(CollateTest, EmptyAndUndefinedAndNameMismatch) {
  EXPECT_TRUE(contains(error_of([] { L::default_collate({}); }), "0 samples"));
  auto undefined = error_of([] {
    L::default_collate({L::Batch{torch::zeros({1})}, L::Batch{torch::Tensor()}});
  });
  EXPECT_TRUE(contains(undefined, "undefined")) << undefined;
  EXPECT_TRUE(contains(undefined, "sample 1")) << undefined;
  auto names = error_of([] {
    L::default_collate({L::Batch({{"x", torch::zeros({1})}}), L::Batch({{"z", torch::zeros({1})}})});
  });
  EXPECT_TRUE(contains(names, "'z'")) << names;
  EXPECT_TRUE(contains(names, "'x'")) << names;
}

// ---- sample_order ----------------------------------------------------------------------------

TEST(SamplerTest, InOrderWithoutShuffle) {
  auto order = L::sample_order(7, false, 123, 4);
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(L::sample_order(0, true, 1, 0).empty());
  EXPECT_EQ(L::sample_order(1, true, 1, 0), (std::vector<size_t>{0}));
}

TEST(SamplerTest, ShuffleIsAPermutation) {
  for (size_t n : {2u, 3u, 10u, 1000u}) {
    auto order = L::sample_order(n, true, 42, 0);
    ASSERT_EQ(order.size(), n);
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<size_t> expected(n);
    std::iota(expected.begin(), expected.end(), size_t{0});
    EXPECT_EQ(sorted, expected) << "n=" << n;
  }
}

TEST(SamplerTest, ReproducibleForSameSeedAndEpoch) {
  EXPECT_EQ(L::sample_order(500, true, 42, 3), L::sample_order(500, true, 42, 3));
  EXPECT_NE(L::sample_order(500, true, 42, 3), L::sample_order(500, true, 42, 4));
  EXPECT_NE(L::sample_order(500, true, 42, 0), L::sample_order(500, true, 43, 0));
  // seed and epoch are not interchangeable
  EXPECT_NE(L::sample_order(500, true, 1, 2), L::sample_order(500, true, 2, 1));
  EXPECT_NE(L::sample_order(500, true, 42, 0), L::sample_order(500, false, 42, 0));
}

TEST(SamplerTest, OrderIsPinnedAcrossRunsAndPlatforms) {
  // The algorithm is SplitMix64 + Fisher-Yates, specified bit for bit: this order must never
  // change (it would silently change the data order of every reproducible run).
  EXPECT_EQ(L::sample_order(10, true, 42, 0), (std::vector<size_t>{7, 8, 2, 5, 0, 9, 1, 4, 6, 3}));
}

TEST(SamplerTest, EpochsLookUncorrelated) {
  // Consecutive epochs should not keep many samples at the same position.
  auto a = L::sample_order(1000, true, 7, 0);
  auto b = L::sample_order(1000, true, 7, 1);
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  EXPECT_LT(same, 20);
}

// ---- TensorDataset -----------------------------------------------------------------------------

TEST(TensorDatasetTest, GetAndGetBatch) {
  auto x = torch::arange(20, torch::kFloat).reshape({10, 2});
  auto y = torch::arange(10);
  L::TensorDataset ds{x, y};
  EXPECT_EQ(ds.size(), 10u);
  auto s = ds.get(3);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(s[0].equal(x[3]));
  EXPECT_EQ(s[1].item<int64_t>(), 3);
  auto b = ds.get_batch({7, 0, 3});
  EXPECT_TRUE(b[0].equal(torch::stack({x[7], x[0], x[3]})));
  EXPECT_TRUE(b[1].equal(torch::tensor({7, 0, 3}, torch::kLong)));
  // The batched fetch is a copy: writing to it leaves the dataset alone.
  b[0].fill_(-1);
  EXPECT_EQ(x[7][0].item<float>(), 14.0f);
  // Same result as the generic (get + collate) path.
  auto generic = ds.Dataset::get_batch({7, 0, 3});
  EXPECT_TRUE(generic[0].equal(ds.get_batch({7, 0, 3})[0]));
  EXPECT_TRUE(generic[1].equal(ds.get_batch({7, 0, 3})[1]));
}

TEST(TensorDatasetTest, MismatchedFirstDimensionIsAnError) {
  EXPECT_THROW(L::TensorDataset({torch::zeros({4, 2}), torch::zeros({5})}),
               L::MisconfigurationException);
  auto msg = error_of([] { L::TensorDataset({torch::zeros({4, 2}), torch::zeros({5})}); });
  EXPECT_TRUE(contains(msg, "tensor 1 has 5 rows")) << msg;
  EXPECT_TRUE(contains(msg, "tensor 0 has 4")) << msg;
  EXPECT_TRUE(contains(error_of([] { L::TensorDataset(std::vector<torch::Tensor>{}); }),
                       "0 tensors"));
  EXPECT_TRUE(contains(error_of([] { L::TensorDataset({torch::tensor(1.0)}); }), "0-dim"));
}

TEST(TensorDatasetTest, OutOfRangeIndex) {
  L::TensorDataset ds{torch::zeros({3, 2})};
  EXPECT_THROW(ds.get(3), std::out_of_range);
  EXPECT_THROW(ds.get_batch({0, 3}), std::out_of_range);
  try {
    ds.get_batch({0, 9});
  } catch (const std::out_of_range& e) {
    EXPECT_TRUE(contains(e.what(), "index 9")) << e.what();
    EXPECT_TRUE(contains(e.what(), "size 3")) << e.what();
  }
}
