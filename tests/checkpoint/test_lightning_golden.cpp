// Checkpoints against Python Lightning 2.2.5 itself: the golden files in tests/checkpoint/golden/
// were written by Lightning (make_lightning_golden.py, not run by CI) for a fully deterministic
// module; here the same module trains in C++.
// - Our checkpoint at the same moment equals Lightning's key by key, value by value
//   (compare_checkpoints.py, with Debian's python3-torch: types, key order, counters, tensors).
// - Our run ends with Lightning's weights.
// - Our resume from Lightning's mid-epoch file continues exactly: the weights are bit-identical to
//   an uninterrupted run (Lightning itself reruns the interrupted batch and restarts its loader).
#include "helpers/boring_model.h"
#include "helpers/python.h"

#include <lightning/checkpoint/serialization.h>

#include <gtest/gtest.h>

#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <cstdlib>

using namespace lightning;
using namespace lightning::testing;

namespace {

std::string golden(const std::string& name) {
  const char* root = std::getenv("LIGHTNING_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/checkpoint/golden/" + name;
}

std::pair<torch::Tensor, torch::Tensor> golden_data() {
  auto x = ((torch::arange(256) % 17) - 8).to(torch::kFloat).reshape({64, 4}) / 8;
  auto y = torch::stack({x.select(1, 0) * 2 - x.select(1, 1), x.select(1, 2) + x.select(1, 3) * 0.5}, 1);
  return {x, y};
}

DataLoader golden_train_loader() {
  auto [x, y] = golden_data();
  return DataLoader(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 8});
}

DataLoader golden_val_loader() {
  auto [x, y] = golden_data();
  return DataLoader(
      std::make_shared<TensorDataset>(std::vector<torch::Tensor>{x.slice(0, 0, 16), y.slice(0, 0, 16)}),
      {.batch_size = 8});
}

/// make_lightning_golden.py's GoldenModule (and, with `manual`, its ManualModule).
struct GoldenModule : LightningModule {
  torch::nn::Linear layer{nullptr};
  bool manual;
  explicit GoldenModule(bool manual_optimization = false) : manual(manual_optimization) {
    save_hyperparameters({{"lr", 0.1}});
    automatic_optimization = !manual;
    layer = register_module("layer", torch::nn::Linear(4, 2));
    torch::NoGradGuard no_grad;
    layer->weight.copy_(torch::arange(8, torch::kFloat).reshape({2, 4}) * 0.1 - 0.3);
    layer->bias.copy_(torch::tensor({0.1f, -0.2f}));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return layer->forward(x); }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::mse_loss(layer->forward(batch[0]), batch[1]);
    if (manual) {
      auto& opt = optimizers().front();
      opt->zero_grad();
      manual_backward(loss);
      opt.step();
    }
    log("train_loss", loss);
    return loss;
  }
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    log("val_loss", torch::nn::functional::mse_loss(layer->forward(batch[0]), batch[1]));
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    if (manual) return opt;
    return {opt, std::make_shared<optim::StepLR>(opt, 1, 0.5)};
  }
};

TrainerOptions golden_options(std::vector<std::shared_ptr<Callback>> callbacks, const std::string& root) {
  return quiet({.callbacks = std::move(callbacks),
                .max_epochs = 2,
                .num_sanity_val_steps = 2,
                .enable_checkpointing = true,
                .default_root_dir = root});
}

/// The two ModelCheckpoints of the golden run, writing under `root`.
std::vector<std::shared_ptr<Callback>> golden_callbacks(const std::string& root, int64_t every_n_train_steps = 12) {
  return {std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = root + "/ckpt",
                                                                   .filename = "{epoch}-{step}",
                                                                   .save_top_k = -1,
                                                                   .every_n_train_steps = every_n_train_steps}),
          std::make_shared<ModelCheckpoint>(
              ModelCheckpointOptions{.dirpath = root + "/best", .filename = "best", .monitor = "val_loss"})};
}

Dict weights_of(const std::string& path) { return torch_load(path).toGenericDict(); }

void expect_bitwise(const Dict& expected, const LightningModule& model, const std::string& what) {
  for (const auto& [name, value] : model.named_parameters().pairs()) {
    ASSERT_TRUE(expected.contains(name)) << what << ": " << name;
    EXPECT_TRUE(torch::equal(expected.at(name).toTensor(), value)) << what << ": " << name << " differs";
  }
}

class LightningGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_torch_available()) GTEST_SKIP() << python() << " has no torch";
  }
  /// Runs compare_checkpoints.py; fails the test with its report on a difference.
  void expect_same_checkpoint(const std::string& theirs, const std::string& ours) {
    const std::string command =
        python() + " " + golden("compare_checkpoints.py") + " -q '" + theirs + "' '" + ours + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    const int status = ::pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "ours: " << ours << "\n" << output;
  }
  TempDir tmp;
};

}  // namespace

TEST_F(LightningGolden, MidEpochCheckpointEqualsLightningsAndTheRunEndsWithItsWeights) {
  auto model = std::make_shared<GoldenModule>();
  Trainer trainer(golden_options(golden_callbacks(tmp.str()), tmp.str()));
  trainer.fit(model, golden_train_loader(), golden_val_loader());
  EXPECT_EQ(trainer.global_step(), 16);
  expect_same_checkpoint(golden("lightning_2_2_5_step12.ckpt"), tmp.file("ckpt/epoch=1-step=12.ckpt"));
  expect_same_checkpoint(golden("lightning_2_2_5_best.ckpt"), tmp.file("best/best.ckpt"));
  expect_bitwise(weights_of(golden("lightning_2_2_5_final_uninterrupted.pt")), *model, "final weights");
}

TEST_F(LightningGolden, ManualOptimizationCheckpointEqualsLightnings) {
  // Lightning's manual run had the step checkpoint only.
  auto model = std::make_shared<GoldenModule>(/*manual_optimization=*/true);
  Trainer trainer(golden_options({golden_callbacks(tmp.str(), 4).front()}, tmp.str()));
  trainer.fit(model, golden_train_loader(), golden_val_loader());
  expect_same_checkpoint(golden("lightning_2_2_5_manual_step4.ckpt"), tmp.file("ckpt/epoch=0-step=4.ckpt"));
}

TEST_F(LightningGolden, ResumeFromLightningsMidEpochFileContinuesExactly) {
  auto uninterrupted = std::make_shared<GoldenModule>();
  Trainer reference(quiet({.max_epochs = 2, .num_sanity_val_steps = 2}));
  reference.fit(uninterrupted, golden_train_loader(), golden_val_loader());

  auto resumed = std::make_shared<GoldenModule>();
  Trainer trainer(quiet({.max_epochs = 2, .num_sanity_val_steps = 2}));
  silenced([&] {
    trainer.fit(resumed, golden_train_loader(), golden_val_loader(), golden("lightning_2_2_5_step12.ckpt"));
  });
  EXPECT_EQ(trainer.global_step(), 16);
  EXPECT_EQ(trainer.current_epoch(), 2);
  for (const auto& [name, value] : uninterrupted->named_parameters().pairs())
    EXPECT_TRUE(torch::equal(resumed->named_parameters()[name], value)) << name;
  expect_bitwise(weights_of(golden("lightning_2_2_5_final_uninterrupted.pt")), *resumed, "Lightning's final weights");
}
