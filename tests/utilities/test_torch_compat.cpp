#include <lightning/utilities/torch_compat.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace {

// (batch, heads, tokens, head_dim): softmax(q k^T / sqrt(d)) v with the future masked out.
TEST(TorchCompat, CausalAttentionIsMaskedSoftmaxAttention) {
  torch::manual_seed(0);
  auto q = torch::randn({2, 3, 5, 4}), k = torch::randn({2, 3, 5, 4}), v = torch::randn({2, 3, 5, 4});
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(4.0);
  auto future = torch::ones({5, 5}, torch::kBool).triu(1);
  auto expected = torch::matmul(torch::softmax(scores.masked_fill(future, -INFINITY), -1), v);
  auto out = lightning::compat::causal_attention(q, k, v);
  EXPECT_EQ(out.sizes(), q.sizes());
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-6));
  // A later token's value never reaches an earlier token's output.
  auto changed = v.clone();
  changed.select(2, 4).add_(100);
  auto again = lightning::compat::causal_attention(q, k, changed);
  EXPECT_TRUE(torch::equal(again.narrow(2, 0, 4), out.narrow(2, 0, 4)));
  EXPECT_FALSE(torch::allclose(again.select(2, 4), out.select(2, 4)));
}

}  // namespace
