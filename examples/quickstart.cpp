// The README's example, compiled so that it stays correct.
#include <lightning/lightning.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
namespace L = lightning;

struct LitRegressor : L::LightningModule {
  torch::nn::Linear layer{nullptr};
  LitRegressor() {
    save_hyperparameters({{"lr", 1e-3}});
    layer = register_module("layer", torch::nn::Linear(32, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return layer->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::mse_loss(forward(batch[0]), batch[1]);
    log("train_loss", loss, {.prog_bar = true});   // on_step by default in training_step
    return loss;                                    // or {} to skip this optimizer step
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    log("val_loss", torch::nn::functional::mse_loss(forward(batch[0]), batch[1]));  // epoch mean
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(hparams()["lr"].toDouble()));
  }
};

int main() {
  L::seed_everything(42);
  auto x = torch::randn({1024, 32});
  auto data = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, x.sum(1, true)});
  L::DataLoader train(data, {.batch_size = 32, .shuffle = true, .num_workers = 2});
  L::DataLoader val(data, {.batch_size = 256});

  auto model = std::make_shared<LitRegressor>();
  L::Trainer trainer({.max_epochs = 5, .val_check_interval = 0.5});
  trainer.fit(model, train, val);
  auto results = trainer.validate(model, val);   // one map of metrics per dataloader
}
