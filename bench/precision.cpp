// Time per training step of a mid-size MLP (784-1024-1024-10, batch 256) on the CPU with
// precision="bf16-mixed" against "32-true", both through Trainer::fit and measured in the same
// run (rounds alternate to share noise). Prints ms per step and the bf16/fp32 ratio.
//
//   ./build/bench/precision [steps] [rounds] [threads]
#include "stats.h"

#include <lightning/lightning.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace L = lightning;
using Clock = std::chrono::steady_clock;

namespace {

struct Mlp : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  Mlp() {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(784, 1024), torch::nn::ReLU(),
                                                       torch::nn::Linear(1024, 1024), torch::nn::ReLU(),
                                                       torch::nn::Linear(1024, 10)));
  }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
};

double ms_per_step(const std::string& precision, const L::DataLoader& loader, int64_t steps) {
  torch::manual_seed(0);
  auto model = std::make_shared<Mlp>();
  L::Trainer trainer({.accelerator = "cpu", .precision = precision, .logger = false, .max_steps = steps,
                      .limit_val_batches = 0, .num_sanity_val_steps = 0, .enable_checkpointing = false,
                      .enable_progress_bar = false, .enable_model_summary = false});
  const auto start = Clock::now();
  trainer.fit(model, loader);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / static_cast<double>(steps);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t steps = argc > 1 ? std::stoll(argv[1]) : 30;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  torch::set_num_threads(argc > 3 ? std::stoi(argv[3]) : 1);
  torch::manual_seed(0);
  auto x = torch::randn({256 * 8, 784});
  auto y = torch::randint(0, 10, {256 * 8});
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 256});
  ms_per_step("32-true", loader, 3);  // warm-up
  std::vector<double> fp32, bf16;
  for (int r = 0; r < rounds; ++r) {
    fp32.push_back(ms_per_step("32-true", loader, steps));
    bf16.push_back(ms_per_step("bf16-mixed", loader, steps));
  }
  const double a = bench::median(fp32), b = bench::median(bf16);
  std::cout << fmt::format("MLP 784-1024-1024-10, batch 256, {} threads, {} steps x {} rounds (median)\n",
                           torch::get_num_threads(), steps, rounds)
            << fmt::format("  32-true     {:8.2f} ms/step\n", a) << fmt::format("  bf16-mixed  {:8.2f} ms/step\n", b)
            << fmt::format("  bf16-mixed / 32-true = {:.2f}\n", b / a);
}
