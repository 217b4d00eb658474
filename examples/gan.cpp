// A small GAN with manual optimization: two optimizers, each with its own LR scheduler,
// toggle_optimizer/untoggle_optimizer, manual_backward and a hand-made gradient clip.
// The generator is trained to imitate points on a ring of radius 2 (a toy: it prints the
// radius it reaches).
//
//   ./build/examples/gan [--epochs 20] [--threads N] [--fast_dev_run]
#include "fit_report.h"

#include <CLI/CLI.hpp>
#include <lightning/lightning.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <iostream>
namespace L = lightning;
namespace F = torch::nn::functional;

struct GAN : L::LightningModule {
  static constexpr int64_t kNoise = 8;
  torch::nn::Sequential generator{nullptr}, discriminator{nullptr};
  GAN() {
    automatic_optimization = false;
    generator = register_module("generator", torch::nn::Sequential(torch::nn::Linear(kNoise, 32), torch::nn::ReLU(),
                                                                   torch::nn::Linear(32, 2)));
    discriminator = register_module("discriminator", torch::nn::Sequential(torch::nn::Linear(2, 32),
                                                                           torch::nn::LeakyReLU(), torch::nn::Linear(32, 1)));
  }

  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto& g_opt = optimizers()[0];
    auto& d_opt = optimizers()[1];
    const auto& real = batch[0];
    const auto n = real.size(0);
    auto fake = generator->forward(torch::randn({n, kNoise}));
    auto ones = torch::ones({n, 1}), zeros = torch::zeros({n, 1});

    // Generator: make the discriminator call the fakes real (only the generator's parameters get gradients).
    toggle_optimizer(g_opt);
    auto g_loss = F::binary_cross_entropy_with_logits(discriminator->forward(fake), ones);
    g_opt.zero_grad();
    manual_backward(g_loss);
    g_opt.step();
    untoggle_optimizer(g_opt);

    // Discriminator: tell real from (detached) fake, with its gradients clipped by hand.
    toggle_optimizer(d_opt);
    auto d_loss = (F::binary_cross_entropy_with_logits(discriminator->forward(real), ones) +
                   F::binary_cross_entropy_with_logits(discriminator->forward(fake.detach()), zeros)) /
                  2;
    d_opt.zero_grad();
    manual_backward(d_loss);
    clip_gradients(*d_opt, 1.0, "norm");
    d_opt.step();
    untoggle_optimizer(d_opt);

    log("g_loss", g_loss.detach(), {.prog_bar = true});
    log("d_loss", d_loss.detach(), {.prog_bar = true});
    return {};
  }

  void on_train_epoch_end() override {
    for (auto& scheduler : lr_schedulers()) scheduler->step();  // manual optimization steps them too
  }

  L::OptimizerConfig configure_optimizers() override {
    auto g = std::make_shared<torch::optim::Adam>(generator->parameters(), torch::optim::AdamOptions(2e-3).betas({0.5, 0.999}));
    auto d = std::make_shared<torch::optim::Adam>(discriminator->parameters(), torch::optim::AdamOptions(2e-3).betas({0.5, 0.999}));
    return {{g, d}, {{std::make_shared<L::optim::ExponentialLR>(g, 0.9)}, {std::make_shared<L::optim::ExponentialLR>(d, 0.9)}}};
  }
};

int main(int argc, char** argv) {
  CLI::App app{"A small GAN with manual optimization, learning a ring of radius 2"};
  int64_t epochs = 20;
  int threads = 0;
  bool fast_dev_run = false;
  app.add_option("--epochs", epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "LibTorch's intra-op threads (0: one per core)")->capture_default_str();
  app.add_flag("--fast_dev_run", fast_dev_run, "One batch, as the Trainer flag");
  CLI11_PARSE(app, argc, argv);
  examples::set_threads(threads);
  L::seed_everything(0);
  auto angle = torch::rand({2048}) * 2 * M_PI;
  auto ring = torch::stack({2 * torch::cos(angle), 2 * torch::sin(angle)}, 1) + 0.05 * torch::randn({2048, 2});
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{ring}),
                       {.batch_size = 64, .shuffle = true});
  auto model = std::make_shared<GAN>();
  L::Trainer trainer({.accelerator = "cpu",
                      .logger = false,
                      .callbacks = {std::make_shared<examples::FitReport>()},
                      .fast_dev_run = fast_dev_run,
                      .max_epochs = epochs,
                      .enable_checkpointing = false});
  trainer.fit(model, loader);
  torch::NoGradGuard no_grad;
  auto radius = model->generator->forward(torch::randn({1000, GAN::kNoise})).norm(2, 1);
  std::cout << "global_step " << trainer.global_step() << " (two optimizer steps per batch); generated radius "
            << radius.mean().item<double>() << " +- " << radius.std().item<double>() << " (target 2)" << std::endl;
}
