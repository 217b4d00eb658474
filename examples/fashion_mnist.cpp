// The main job: a small CNN (or an MLP) trained on Fashion-MNIST from Debian's
// dataset-fashion-mnist package, validated every epoch and tested at the end.
//
//   ./build/examples/fashion_mnist --max_epochs 2 --batch_size 64 --num_workers 2 --accelerator auto
//   ./build/examples/fashion_mnist --accelerator cpu --devices 2    # two processes with DDP
#include <lightning/lightning.h>

#include <CLI/CLI.hpp>

#include <optional>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/modules/container/functional.h>
#include <torch/optim/adam.h>

#include <iostream>

namespace L = lightning;

// Fashion-MNIST pixel statistics (training set).
constexpr double kMean = 0.2860, kStd = 0.3530;

struct FashionClassifier : L::LightningModule {
  torch::nn::Sequential net{nullptr};

  FashionClassifier(const std::string& arch, double lr) {
    save_hyperparameters({{"arch", arch}, {"lr", lr}});
    using namespace torch::nn;
    if (arch == "cnn") {
      net = register_module(
          "net", Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                            Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2), Flatten(),
                            Linear(64 * 7 * 7, 128), ReLU(), Dropout(0.25), Linear(128, 10)));
    } else {
      net = register_module("net", Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 10)));
    }
    example_input_array = torch::zeros({1, 1, 28, 28});
  }

  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }

  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss, {.prog_bar = true});
    return loss;
  }

  torch::Tensor accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
    return logits.argmax(1).eq(labels).to(torch::kFloat).mean();
  }

  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    auto logits = forward(batch[0]);
    log("val_loss", torch::nn::functional::cross_entropy(logits, batch[1]), {.prog_bar = true, .sync_dist = true});
    log("val_acc", accuracy(logits, batch[1]), {.prog_bar = true, .sync_dist = true});
    return {};
  }

  L::StepOutput test_step(const L::Batch& batch, int64_t, int64_t) override {
    auto logits = forward(batch[0]);
    log("test_loss", torch::nn::functional::cross_entropy(logits, batch[1]), {.sync_dist = true});
    log("test_acc", accuracy(logits, batch[1]), {.sync_dist = true});
    return {};
  }

  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(),
                                                torch::optim::AdamOptions(hparams()["lr"].toDouble()));
  }
};

/// Train/validation split of the 60000 training images (55000/5000), and the 10000 test images,
/// normalised once here rather than in every forward.
struct FashionMNISTDataModule : L::LightningDataModule {
  std::string root;
  int64_t batch_size;
  int num_workers;
  std::shared_ptr<L::TensorDataset> train, val, test;

  FashionMNISTDataModule(std::string r, int64_t bs, int workers) : root(std::move(r)), batch_size(bs), num_workers(workers) {}

  void setup(const std::string& stage) override {
    if (stage == "fit" || stage == "validate") {
      L::FashionMNIST full(root, /*train=*/true);
      auto images = (full.images() - kMean) / kStd, labels = full.labels();
      train = std::make_shared<L::TensorDataset>(
          std::vector<torch::Tensor>{images.narrow(0, 0, 55000), labels.narrow(0, 0, 55000)});
      val = std::make_shared<L::TensorDataset>(
          std::vector<torch::Tensor>{images.narrow(0, 55000, 5000), labels.narrow(0, 55000, 5000)});
    }
    if (stage == "test") {
      L::FashionMNIST t(root, /*train=*/false);
      test = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{(t.images() - kMean) / kStd, t.labels()});
    }
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(train, {.batch_size = batch_size, .shuffle = true, .num_workers = num_workers});
  }
  L::DataLoaders val_dataloader() override {
    return L::DataLoader(val, {.batch_size = 500, .num_workers = num_workers});
  }
  L::DataLoaders test_dataloader() override {
    return L::DataLoader(test, {.batch_size = 500, .num_workers = num_workers});
  }
};

int main(int argc, char** argv) {
  CLI::App app{"Train a classifier on Fashion-MNIST with lightning"};
  int64_t max_epochs = 2, batch_size = 64, seed = 42;
  int num_workers = 2;
  double lr = 1e-3;
  std::string accelerator = "auto", arch = "cnn", data_dir = L::FashionMNIST::kDefaultRoot, root_dir = ".";
  std::string strategy = "auto", devices = "auto";
  int64_t num_nodes = 1;
  app.add_option("--max_epochs", max_epochs, "Epochs to train")->check(CLI::PositiveNumber);
  app.add_option("--batch_size", batch_size, "Training batch size")->check(CLI::PositiveNumber);
  app.add_option("--num_workers", num_workers, "DataLoader worker threads")->check(CLI::NonNegativeNumber);
  app.add_option("--accelerator", accelerator, "cpu, gpu/cuda or auto");
  app.add_option("--strategy", strategy, "auto, ddp, ...");
  app.add_option("--devices", devices, "auto, a count (2: two processes with DDP) or GPU indices (\"0,1\")");
  app.add_option("--num_nodes", num_nodes, "Machines (with NODE_RANK, MASTER_ADDR, MASTER_PORT set)")
      ->check(CLI::PositiveNumber);
  app.add_option("--model", arch, "cnn or mlp")->check(CLI::IsMember({"cnn", "mlp"}));
  app.add_option("--lr", lr, "Adam learning rate")->check(CLI::PositiveNumber);
  app.add_option("--data_dir", data_dir, "Folder with the Fashion-MNIST IDX files");
  app.add_option("--default_root_dir", root_dir, "Where runs write their files");
  app.add_option("--seed", seed, "Random seed");
  std::optional<std::string> ckpt_path;
  app.add_option("--ckpt_path", ckpt_path, "Resume from a checkpoint: a path or \"last\"");
  CLI11_PARSE(app, argc, argv);

  try {
    L::seed_everything(static_cast<uint64_t>(seed), /*workers=*/true);
    auto model = std::make_shared<FashionClassifier>(arch, lr);
    auto data = std::make_shared<FashionMNISTDataModule>(data_dir, batch_size, num_workers);
    // Keep the best epoch by validation accuracy, and last.ckpt to resume from.
    auto checkpoint = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions{
        .filename = "{epoch}-{val_acc:.4f}", .monitor = "val_acc", .save_last = true, .mode = "max"});
    L::Trainer trainer({.accelerator = accelerator,
                        .strategy = strategy,
                        .devices = devices,
                        .num_nodes = num_nodes,
                        .callbacks = {checkpoint},
                        .max_epochs = max_epochs,
                        .default_root_dir = root_dir});
    trainer.fit(model, data, ckpt_path);
    if (trainer.interrupted()) return 130;
    auto results = trainer.test(model, data, "best");
    if (trainer.is_global_zero()) std::cout << "test accuracy: " << results.at(0).at("test_acc") << std::endl;
  } catch (const L::MisconfigurationException& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  } catch (const L::CheckpointError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
