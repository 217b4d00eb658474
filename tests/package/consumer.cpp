// Trains two batches through the public API; exits 0 and prints the step count when it worked.
// Both consumer projects build it: add_subdirectory/ and find_package/ (which also checks that
// the package's version is its headers').
#include <lightning/lightning.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <iostream>
#include <string>

namespace L = lightning;

struct Tiny : L::LightningModule {
  torch::nn::Linear layer{nullptr};
  Tiny() { layer = register_module("layer", torch::nn::Linear(4, 1)); }
  torch::Tensor forward(const torch::Tensor& x) override { return layer->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    return torch::nn::functional::mse_loss(forward(batch[0]), batch[1]);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
};

int main() {
  auto x = torch::ones({8, 4});
  auto data = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, x.sum(1, true)});
  L::Trainer trainer({.accelerator = "cpu", .logger = false, .max_steps = 2, .enable_checkpointing = false,
                      .enable_progress_bar = false, .enable_model_summary = false});
  trainer.fit(std::make_shared<Tiny>(), L::DataLoader(data, {.batch_size = 4}));
#ifdef LIGHTNING_PACKAGE_VERSION
  if (std::string(LIGHTNING_PACKAGE_VERSION) != L::kVersion) {
    std::cout << "consumer: the package says version " << LIGHTNING_PACKAGE_VERSION << ", its headers " << L::kVersion
              << std::endl;
    return 1;
  }
#endif
  std::cout << "consumer global_step=" << trainer.global_step() << std::endl;
  return trainer.global_step() == 2 ? 0 : 1;
}
