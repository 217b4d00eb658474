#pragma once
// Test fixtures in the spirit of Lightning's: a BoringModel every test can subclass, random
// data, and a silent Trainer configuration.
#include <lightning/lightning.h>

#include "helpers/temp_dir.h"

#include <gtest/gtest.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace lightning::testing {

/// 64 samples of 32 random features (Lightning's RandomDataset(32, 64)).
inline std::shared_ptr<TensorDataset> random_dataset(int64_t size = 64, int64_t features = 32) {
  return std::make_shared<TensorDataset>(std::vector<torch::Tensor>{torch::randn({size, features})});
}

inline DataLoader random_loader(int64_t size = 64, int64_t batch_size = 1) {
  return DataLoader(random_dataset(size), {.batch_size = batch_size});
}

/// Lightning's BoringModel: one Linear(32, 2), loss = sum of outputs, SGD(lr=0.1), and its own
/// dataloaders of 64 samples with batch size 1.
struct BoringModel : LightningModule {
  torch::nn::Linear layer{nullptr};
  BoringModel() { layer = register_module("layer", torch::nn::Linear(32, 2)); }
  torch::Tensor forward(const torch::Tensor& x) override { return layer->forward(x); }
  torch::Tensor step(const torch::Tensor& x) {
    auto out = forward(x);
    return torch::nn::functional::mse_loss(out, torch::ones_like(out));
  }
  StepOutput training_step(const Batch& batch, int64_t) override { return step(batch[0]); }
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    return StepOutput({{"x", step(batch[0])}});
  }
  StepOutput test_step(const Batch& batch, int64_t, int64_t) override { return StepOutput({{"y", step(batch[0])}}); }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  DataLoaders train_dataloader() override { return random_loader(); }
  DataLoaders val_dataloader() override { return random_loader(); }
  DataLoaders test_dataloader() override { return random_loader(); }
  DataLoaders predict_dataloader() override { return random_loader(); }
};

/// Logs a scripted "val_loss" per epoch (the last value repeats), for monitoring callbacks.
struct ScriptedValLoss : BoringModel {
  std::vector<double> values;
  explicit ScriptedValLoss(std::vector<double> v) : values(std::move(v)) {}
  StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
    log("val_loss", values.at(std::min(static_cast<size_t>(current_epoch()), values.size() - 1)));
    return BoringModel::validation_step(b, i, d);
  }
};

/// Runs `f` with stderr captured (released even when `f` throws); returns what it printed.
template <typename F>
std::string silenced(F&& f) {
  ::testing::internal::CaptureStderr();
  try {
    f();
  } catch (...) {
    ::testing::internal::GetCapturedStderr();
    throw;
  }
  return ::testing::internal::GetCapturedStderr();
}

/// A Trainer configuration with no progress bar, summary, logger output or checkpoint files
/// (unless the test asks for checkpointing), on the CPU unless the test names an accelerator
/// (or passes a strategy object, which may bring its own): tests compare with CPU loops, and
/// must give the same results on a machine with a GPU.
inline TrainerOptions quiet(TrainerOptions o = {}) {
  if (!o.accelerator.object && o.accelerator.name == "auto" && !o.strategy.object) o.accelerator = "cpu";
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  if (!o.enable_checkpointing) o.enable_checkpointing = false;
  if (o.logger.loggers.empty()) o.logger = false;  // keep loggers a test passes
  return o;
}

}  // namespace lightning::testing

namespace lightning::testing {

/// A logger that remembers every row and call, for asserting what the Trainer sends.
struct RecordingLogger : Logger {
  struct Row {
    std::map<std::string, double> metrics;
    std::optional<int64_t> step;
  };
  std::vector<Row> rows;
  std::vector<std::string> finalized;
  std::vector<std::string> saved_checkpoints;
  int hyperparams_calls = 0;
  int graph_calls = 0;
  std::string name() const override { return "recording"; }
  std::string version() const override { return "7"; }
  std::optional<std::string> log_dir() const override { return dir; }
  void log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) override {
    rows.push_back({metrics, step});
  }
  void log_hyperparams(const Hyperparameters&, const std::map<std::string, double>&) override { ++hyperparams_calls; }
  void log_graph(torch::nn::Module&) override { ++graph_calls; }
  void after_save_checkpoint(const std::string& path) override { saved_checkpoints.push_back(path); }
  void finalize(const std::string& status) override { finalized.push_back(status); }
  std::optional<std::string> dir;
};

}  // namespace lightning::testing
