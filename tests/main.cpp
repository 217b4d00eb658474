// One test binary for the whole suite. Tests named *_CUDA are skipped without a GPU.
#include <gtest/gtest.h>
#include <torch/cuda.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    auto& filter = ::testing::GTEST_FLAG(filter);
    filter += (filter.find('-') == std::string::npos ? "-" : ":") + std::string("*_CUDA:*_CUDA/*");
  }
  return RUN_ALL_TESTS();
}
