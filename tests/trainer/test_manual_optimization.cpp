// Manual optimization with several optimizers (toggle/untoggle, global_step, hooks, schedulers
// stepped by hand, accumulation and clipping by hand) and the closure-based step (LBFGS).
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <torch/optim/adam.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/lbfgs.h>

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// Two layers, one optimizer each (as a GAN's generator and discriminator).
struct TwoOptimizers : LightningModule {
  torch::nn::Linear a{nullptr}, b{nullptr};
  std::vector<std::pair<bool, bool>> requires_grad_in_a_step;  // (a, b) while a's optimizer is toggled
  std::vector<int64_t> global_steps;
  int before_optimizer_step = 0;
  TwoOptimizers() {
    automatic_optimization = false;
    a = register_module("a", torch::nn::Linear(4, 4));
    b = register_module("b", torch::nn::Linear(4, 1));
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto& opt_a = optimizers()[0];
    auto& opt_b = optimizers()[1];
    global_steps.push_back(global_step());
    toggle_optimizer(opt_a);
    requires_grad_in_a_step.emplace_back(a->weight.requires_grad(), b->weight.requires_grad());
    opt_a.zero_grad();
    manual_backward(b->forward(a->forward(batch[0])).pow(2).mean());
    opt_a.step();
    untoggle_optimizer(opt_a);
    toggle_optimizer(opt_b);
    opt_b.zero_grad();
    auto a_grad = a->weight.grad().clone();
    manual_backward(b->forward(a->forward(batch[0])).pow(2).mean());
    EXPECT_TRUE(torch::equal(a->weight.grad(), a_grad));  // a is frozen while b's optimizer is toggled
    opt_b.step();
    untoggle_optimizer(opt_b);
    return {};
  }
  void on_before_optimizer_step(torch::optim::Optimizer&) override { ++before_optimizer_step; }
  OptimizerConfig configure_optimizers() override {
    auto opt_a = std::make_shared<torch::optim::SGD>(a->parameters(), torch::optim::SGDOptions(0.1));
    auto opt_b = std::make_shared<torch::optim::Adam>(b->parameters(), torch::optim::AdamOptions(0.01));
    return {{opt_a, opt_b}, {{std::make_shared<optim::StepLR>(opt_a, 1, 0.5)}}};
  }
};

DataLoader loader(int64_t n = 6) {
  return DataLoader(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{torch::randn({n, 4})}),
                    {.batch_size = 2});
}

}  // namespace

TEST(ManualOptimization, SeveralOptimizersToggleAndCountEveryStep) {
  auto model = std::make_shared<TwoOptimizers>();
  Trainer trainer(quiet({.max_epochs = 2, .limit_val_batches = 0}));
  trainer.fit(model, loader());
  EXPECT_EQ(trainer.global_step(), 12);  // 3 batches x 2 epochs x 2 optimizers
  EXPECT_EQ(model->global_steps, (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(model->before_optimizer_step, 12);
  for (const auto& [a, b] : model->requires_grad_in_a_step) {
    EXPECT_TRUE(a);
    EXPECT_FALSE(b);
  }
  EXPECT_TRUE(model->a->weight.requires_grad() && model->b->weight.requires_grad());  // restored
  // Manual optimization: the Trainer does not step schedulers.
  ASSERT_EQ(model->lr_schedulers().size(), 1u);
  EXPECT_EQ(model->lr_schedulers()[0]->last_epoch(), 0);
  EXPECT_DOUBLE_EQ(model->optimizers()[0]->param_groups()[0].options().get_lr(), 0.1);
}

TEST(ManualOptimization, AccumulationAndClippingByHandMatchAPlainLoop) {
  struct Accumulating : BoringModel {
    Accumulating() { automatic_optimization = false; }
    StepOutput training_step(const Batch& batch, int64_t i) override {
      auto& opt = optimizers()[0];
      manual_backward(step(batch[0]) / 2);
      if ((i + 1) % 2 == 0) {
        clip_gradients(*opt, 0.05, "value");
        opt.step();
        opt.zero_grad();
      }
      return {};
    }
  };
  torch::manual_seed(1);
  auto model = std::make_shared<Accumulating>();
  BoringModel reference;
  {
    torch::NoGradGuard no_grad;
    reference.layer->weight.copy_(model->layer->weight);
    reference.layer->bias.copy_(model->layer->bias);
  }
  auto data = torch::randn({8, 32});
  Trainer trainer(quiet({.max_epochs = 1, .limit_val_batches = 0}));
  trainer.fit(model, DataLoader(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{data}), {.batch_size = 2}));
  EXPECT_EQ(trainer.global_step(), 2);
  torch::optim::SGD sgd(reference.parameters(), torch::optim::SGDOptions(0.1));
  for (int i = 0; i < 4; ++i) {
    (reference.step(data.slice(0, 2 * i, 2 * i + 2)) / 2).backward();
    if ((i + 1) % 2 == 0) {
      torch::nn::utils::clip_grad_value_(reference.parameters(), 0.05);
      sgd.step();
      sgd.zero_grad();
    }
  }
  EXPECT_TRUE(torch::equal(model->layer->weight, reference.layer->weight));
  EXPECT_TRUE(torch::equal(model->layer->bias, reference.layer->bias));
}

TEST(ManualOptimization, SeveralOptimizersNeedManualOptimization) {
  struct Auto : TwoOptimizers {
    Auto() { automatic_optimization = true; }
  };
  Trainer trainer(quiet({.max_epochs = 1, .limit_val_batches = 0}));
  EXPECT_TRUE(contains(error_of([&] { trainer.fit(std::make_shared<Auto>(), loader()); }),
                       "only supported with manual optimization"));
}

TEST(AutomaticOptimization, LbfgsCallsTheClosureSeveralTimesAndConverges) {
  struct Lbfgs : BoringModel {
    int closure_calls = 0;
    StepOutput training_step(const Batch& b, int64_t i) override {
      ++closure_calls;
      return BoringModel::training_step(b, i);
    }
    OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::LBFGS>(parameters(), torch::optim::LBFGSOptions(0.5).max_iter(5));
    }
  };
  auto model = std::make_shared<Lbfgs>();
  auto data = torch::randn({4, 32});
  DataLoader same(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{data}), {.batch_size = 4});
  const double before = model->step(data).item<double>();
  Trainer trainer(quiet({.max_epochs = 3, .limit_val_batches = 0}));
  trainer.fit(model, same);
  EXPECT_EQ(trainer.global_step(), 3);
  EXPECT_GT(model->closure_calls, 3);
  EXPECT_LT(model->step(data).item<double>(), before);
}
