// The main job: a small CNN (or an MLP) trained on Fashion-MNIST from Debian's
// dataset-fashion-mnist package, validated every epoch and tested at the end, on LightningCLI:
// every Trainer flag (--trainer.max_epochs or --max_epochs), the model's and the datamodule's
// arguments (--model mlp --model.lr 0.01, --data.batch_size 128), config files (--config) and
// --print_config. Without a subcommand it runs `fit` (then `test` with the best checkpoint).
//
//   ./build/examples/fashion_mnist --max_epochs 2 --batch_size 64 --num_workers 2 --accelerator auto
//   ./build/examples/fashion_mnist fit --accelerator cpu --devices 2    # two processes with DDP
//   ./build/examples/fashion_mnist fit --print_config > run.yaml; ./build/examples/fashion_mnist fit --config run.yaml
//   ./build/examples/fashion_mnist test --model mlp --ckpt_path lightning_logs/version_0/checkpoints/last.ckpt
#include "fit_report.h"

#include <lightning/lightning.h>

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

  /// The command line picks the architecture by name (`--model mlp`), each with its arguments.
  static void register_architectures() {
    for (const char* arch : {"cnn", "mlp"})
      L::cli::ModelRegistry::instance().register_class(
          arch, [](L::cli::Arguments& args) { args.add("lr", 1e-3, "Adam learning rate"); },
          [arch](const L::cli::InitArgs& args) -> std::shared_ptr<L::LightningModule> {
            return std::make_shared<FashionClassifier>(arch, args.get<double>("lr"));
          },
          std::string(arch) == "cnn" ? "Two convolutions, two linear layers" : "One hidden layer of 256");
  }
};

/// Train/validation split of the 60000 training images (55000/5000), and the 10000 test images,
/// normalised once here rather than in every forward.
struct FashionMNISTDataModule : L::LightningDataModule {
  std::string root;
  int64_t batch_size;
  int num_workers;
  std::shared_ptr<L::TensorDataset> train, val, test;

  static void add_arguments(L::cli::Arguments& args) {
    args.add("data_dir", std::string(L::FashionMNIST::kDefaultRoot), "Folder with the Fashion-MNIST IDX files");
    args.add("batch_size", int64_t{64}, "Training batch size");
    args.add("num_workers", 2, "DataLoader worker threads");
    args.add("threads", 0, "LibTorch's intra-op threads (0: one per core)");
  }
  explicit FashionMNISTDataModule(const L::cli::InitArgs& args)
      : root(args.get<std::string>("data_dir")),
        batch_size(args.get<int64_t>("batch_size")),
        num_workers(args.get<int>("num_workers")) {
    examples::set_threads(args.get<int>("threads"));
  }

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
  FashionClassifier::register_architectures();
  using CLI = L::LightningCLI<FashionClassifier, FashionMNISTDataModule>;
  CLI::Hooks hooks;
  hooks.after_fit = [](CLI& cli) {
    if (cli.trainer->interrupted()) return;
    // fast_dev_run saves no checkpoint: test the weights at hand (Lightning refuses "best" there).
    std::optional<std::string> ckpt = cli.trainer->fast_dev_run() ? std::nullopt : std::optional<std::string>("best");
    auto results = cli.trainer->test(cli.model, cli.datamodule, ckpt);
    if (cli.trainer->is_global_zero()) std::cout << "test accuracy: " << results.at(0).at("test_acc") << std::endl;
  };
  // Keep the best epoch by validation accuracy, and last.ckpt to resume from.
  L::TrainerOptions trainer_defaults{.callbacks = {std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions{
                                                      .filename = "{epoch}-{val_acc:.4f}",
                                                      .monitor = "val_acc",
                                                      .save_last = true,
                                                      .mode = "max"}),
                                                  std::make_shared<examples::FitReport>()},
                                     .max_epochs = 3};
  CLI cli(argc, argv,
          {.trainer_defaults = trainer_defaults,
           .seed_everything_default = 42,
           .defaults = {{"model", "cnn"}},
           .subclass_mode_model = true,
           .default_subcommand = "fit",
           .unprefixed_flags = true,
           .description = "Train a classifier on Fashion-MNIST with lightning"},
          hooks);
  return cli.trainer->interrupted() ? 130 : 0;
}
