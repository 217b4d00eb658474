#include "lightning/data/datasets/torch_dataset.h"

#include "lightning/data/dataloader.h"

#include <gtest/gtest.h>
#include <torch/types.h>

// C++20 designated initializers that leave members at their defaults (GCC warns under -Wextra).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace L = lightning;

namespace {

/// Example i: data = [i, 2i], target = i % 3.
class PairsDataset : public torch::data::datasets::Dataset<PairsDataset> {
 public:
  explicit PairsDataset(size_t n) : n_(n) {}
  torch::data::Example<> get(size_t index) override {
    const auto i = static_cast<float>(index);
    return {torch::tensor({i, 2 * i}), torch::tensor(static_cast<int64_t>(index % 3))};
  }
  torch::optional<size_t> size() const override { return n_; }

 private:
  size_t n_;
};

/// Data only (TensorExample).
class DataOnly : public torch::data::datasets::Dataset<DataOnly, torch::data::TensorExample> {
 public:
  torch::data::TensorExample get(size_t index) override {
    return torch::data::TensorExample(torch::full({3}, static_cast<float>(index)));
  }
  torch::optional<size_t> size() const override { return 4; }
};

}  // namespace

TEST(TorchDatasetAdapterTest, WrapsExamplesAsNamedBatches) {
  auto ds = L::from_torch_dataset(PairsDataset(7));
  ASSERT_EQ(ds->size(), 7u);
  auto s = ds->get(4);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"data", "target"}));
  EXPECT_TRUE(s["data"].equal(torch::tensor({4.0f, 8.0f})));
  EXPECT_EQ(s["target"].item<int64_t>(), 1);

  L::DataLoader loader(ds, {.batch_size = 3, .num_workers = 2});
  EXPECT_EQ(*loader.size(), 3u);
  std::vector<int64_t> targets;
  for (auto& b : loader) {
    EXPECT_EQ(b["data"].size(1), 2);
    for (int64_t r = 0; r < b.batch_size(); ++r) targets.push_back(b["target"][r].item<int64_t>());
  }
  EXPECT_EQ(targets, (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(TorchDatasetAdapterTest, TensorExampleHasOnlyData) {
  auto ds = L::from_torch_dataset(DataOnly());
  auto s = ds->get(2);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"data"}));
  auto b = ds->get_batch({3, 1});
  EXPECT_EQ(b["data"].sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b["data"][0][0].item<float>(), 3.0f);
}
