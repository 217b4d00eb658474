// LightningModule members outside and inside a Trainer.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;

TEST(LightningModule, HyperparametersKeepInsertionOrderAndReplace) {
  BoringModel m;
  m.save_hyperparameters({{"lr", 0.1}, {"hidden", 64}, {"arch", std::string("mlp")}});
  m.save_hyperparameters({{"lr", 0.01}});
  ASSERT_EQ(m.hparams().size(), 3u);
  EXPECT_EQ(m.hparams().items()[0].first, "lr");
  EXPECT_DOUBLE_EQ(m.hparams()["lr"].toDouble(), 0.01);
  EXPECT_EQ(m.hparams()["hidden"].toInt(), 64);
  EXPECT_EQ(m.hparams()["arch"].toStringRef(), "mlp");
  EXPECT_TRUE(contains(error_of([&] { m.hparams().at("missing"); }), "missing"));
}

TEST(LightningModule, DetachedFromATrainer) {
  BoringModel m;
  EXPECT_FALSE(m.has_trainer());
  EXPECT_EQ(m.current_epoch(), 0);
  EXPECT_EQ(m.global_step(), 0);
  EXPECT_EQ(m.device(), torch::Device(torch::kCPU));
  EXPECT_NO_THROW(m.log("ignored", 1.0));  // as Lightning: log outside a Trainer does nothing
  EXPECT_TRUE(contains(error_of([&] { m.trainer(); }), "not attached"));
  ::testing::internal::CaptureStdout();
  m.print("hello {}", 42);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "hello 42\n");
}

TEST(LightningModule, StateInsideFit) {
  struct Probe : BoringModel {
    std::vector<std::pair<int64_t, int64_t>> seen;  // (epoch, global_step) at each training step
    bool had_optimizer = false;
    StepOutput training_step(const Batch& b, int64_t i) override {
      seen.emplace_back(current_epoch(), global_step());
      had_optimizer = optimizers().size() == 1;
      return BoringModel::training_step(b, i);
    }
  };
  auto m = std::make_shared<Probe>();
  Trainer trainer(quiet({.max_epochs = 2, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(m->seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 1}, {1, 2}, {1, 3}}));
  EXPECT_TRUE(m->had_optimizer);
  EXPECT_EQ(&m->trainer(), &trainer);
}

TEST(LightningModule, StepOutputForms) {
  StepOutput none;
  EXPECT_TRUE(none.empty());
  StepOutput loss = torch::tensor(1.0);
  EXPECT_TRUE(loss.loss.defined());
  StepOutput dict({{"loss", torch::tensor(2.0)}, {"acc", torch::tensor(0.5)}});
  EXPECT_EQ(dict.loss.item<double>(), 2.0);
  EXPECT_EQ(dict.extras.at("acc").item<double>(), 0.5);
}

TEST(LightningModule, SkippingTheStepLeavesWeightsUnchanged) {
  struct Skips : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override { return {}; }
  };
  auto m = std::make_shared<Skips>();
  auto before = m->layer->weight.clone();
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 3, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_TRUE(torch::equal(before, m->layer->weight.cpu()));
  EXPECT_EQ(trainer.global_step(), 3);  // Lightning counts the optimizer step calls
}

TEST(LightningModule, GradientClippingAndAccumulation) {
  // Clipping by value bounds every gradient entry seen by the optimizer step.
  struct Watch : BoringModel {
    double max_grad = 0;
    void on_before_zero_grad(torch::optim::Optimizer&) override {
      if (layer->weight.grad().defined())
        max_grad = std::max(max_grad, layer->weight.grad().abs().max().item<double>());
    }
    StepOutput training_step(const Batch& b, int64_t i) override { return layer->forward(b[0]).sum() * 100; }
  };
  auto m = std::make_shared<Watch>();
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 4, .limit_val_batches = 0,
                         .gradient_clip_val = 0.01, .gradient_clip_algorithm = "value"}));
  trainer.fit(m);
  EXPECT_GT(m->max_grad, 0);
  EXPECT_LE(m->max_grad, 0.01 + 1e-9);
}

TEST(LightningModule, ManualOptimizationRunsTheUsersSteps) {
  struct Manual : BoringModel {
    Manual() { automatic_optimization = false; }
    int backward_hooks = 0;
    void on_after_backward() override { ++backward_hooks; }
    StepOutput training_step(const Batch& b, int64_t i) override {
      auto& opt = *optimizers().front();
      opt.zero_grad();
      auto loss = step(b[0]);
      manual_backward(loss);
      opt.step();
      return loss;
    }
  };
  auto m = std::make_shared<Manual>();
  auto before = m->layer->weight.clone();
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 3, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(m->backward_hooks, 3);
  EXPECT_FALSE(torch::equal(before, m->layer->weight.cpu()));
}
