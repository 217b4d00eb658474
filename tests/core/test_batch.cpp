#include "helpers/errors.h"
#include "lightning/core/batch.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <stdexcept>
#include <string>

namespace L = lightning;

using lightning::testing::contains;
using lightning::testing::error_of;

TEST(BatchTest, PositionalFields) {
  auto x = torch::ones({4, 3});
  auto y = torch::arange(4);
  L::Batch b{x, y};
  EXPECT_EQ(b.size(), 2u);
  EXPECT_FALSE(b.empty());
  EXPECT_TRUE(b[0].equal(x));
  EXPECT_TRUE(b[1].equal(y));
  EXPECT_EQ(b.names(), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(b.batch_size(), 4);
  size_t n = 0;
  for (const auto& f : b) {
    EXPECT_TRUE(f.defined());
    ++n;
  }
  EXPECT_EQ(n, 2u);
}

TEST(BatchTest, NamedFieldsAndContains) {
  L::Batch b({{"x", torch::zeros({2, 5})}, {"y", torch::tensor({1, 2})}});
  EXPECT_TRUE(b.contains("x"));
  EXPECT_TRUE(b.contains("y"));
  EXPECT_FALSE(b.contains("z"));
  EXPECT_FALSE(b.contains(""));
  EXPECT_EQ(b["x"].size(1), 5);
  EXPECT_TRUE(b["y"].equal(b[1]));
  b["x"] = torch::ones({2, 5});  // mutable access
  EXPECT_EQ(b[0].sum().item<float>(), 10.0f);
  b.push_back(torch::zeros({2}));
  b.push_back(torch::zeros({2}), "w");
  EXPECT_EQ(b.size(), 4u);
  EXPECT_EQ(b.names(), (std::vector<std::string>{"x", "y", "", "w"}));
}

TEST(BatchTest, IndexOutOfRangeNamesIndexAndSize) {
  L::Batch b{torch::zeros({1}), torch::zeros({1})};
  EXPECT_THROW(b[2], std::out_of_range);
  const auto msg = error_of([&] { (void)b[5]; });
  EXPECT_NE(msg.find("5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 field"), std::string::npos) << msg;
}

TEST(BatchTest, UnknownNameListsKnownNames) {
  L::Batch b({{"image", torch::zeros({1})}, {"label", torch::zeros({1})}});
  EXPECT_THROW(b["lable"], std::out_of_range);
  const auto msg = error_of([&] { (void)b["lable"]; });
  EXPECT_NE(msg.find("'lable'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("image"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label"), std::string::npos) << msg;
  L::Batch unnamed{torch::zeros({1})};
  EXPECT_THROW(unnamed[""], std::out_of_range);
  EXPECT_THROW(unnamed["x"], std::out_of_range);
}

TEST(BatchTest, ToSameDeviceKeepsStorageAndNames) {
  L::Batch b({{"x", torch::rand({3, 2})}, {"y", torch::arange(3)}});
  auto moved = b.to(torch::kCPU);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved.names(), b.names());
  EXPECT_EQ(moved[0].data_ptr(), b[0].data_ptr());  // no copy when already on the device
  EXPECT_TRUE(moved["y"].equal(b["y"]));
}

TEST(BatchTest, BatchSizeSkipsScalarsAndUndefined) {
  EXPECT_EQ(L::Batch().batch_size(), 0);
  L::Batch b{torch::Tensor(), torch::tensor(3.0), torch::zeros({7, 2})};
  EXPECT_EQ(b.batch_size(), 7);
  L::Batch scalars{torch::tensor(1.0)};
  EXPECT_EQ(scalars.batch_size(), 0);
}

TEST(BatchTest, VectorConstructor) {
  std::vector<torch::Tensor> fields{torch::zeros({5}), torch::ones({5, 2})};
  L::Batch b(std::move(fields));
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.names().size(), 2u);
  EXPECT_EQ(b.batch_size(), 5);
}

TEST(BatchTest, ToCuda_CUDA) {
  L::Batch b({{"x", torch::rand({3, 2})}, {"y", torch::arange(3)}});
  auto g = b.to(torch::Device(torch::kCUDA));
  EXPECT_TRUE(g["x"].is_cuda());
  EXPECT_TRUE(g["y"].is_cuda());
  EXPECT_EQ(g.names(), b.names());
  EXPECT_TRUE(g["x"].cpu().equal(b["x"]));
  auto again = g.to(torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(again[0].data_ptr(), g[0].data_ptr());  // already there: no copy
  EXPECT_EQ(g.to(torch::kCPU)[1].device().type(), torch::kCPU);
}
