// The step between loss and update: accumulation (int and epoch map), clipping (both
// algorithms, hook, helper), scheduling, gradient norms — checked bitwise against a
// hand-written LibTorch loop.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/utils/clip_grad.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace lightning;
using namespace lightning::testing;

namespace {

struct Scenario {
  std::map<int, int> accumulate;  // epoch -> factor
  std::string clip_algorithm;
  double clip_val;
};

torch::Tensor data() {
  torch::manual_seed(3);
  return torch::randn({40, 8});
}

torch::nn::Sequential make_net() {
  torch::manual_seed(5);
  return torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(), torch::nn::Linear(16, 1));
}

torch::Tensor loss_of(torch::nn::Sequential& net, const torch::Tensor& x) {
  auto out = net->forward(x);
  return torch::nn::functional::mse_loss(out, x.sum(1, true));
}

std::vector<LRSchedulerConfig> schedulers_of(const std::shared_ptr<torch::optim::Optimizer>& opt) {
  return {{.scheduler = std::make_shared<optim::ExponentialLR>(opt, 0.9), .interval = "step"},
          {.scheduler = std::make_shared<optim::StepLR>(opt, 1, 0.5)}};
}

struct Net : LightningModule {
  torch::nn::Sequential net{nullptr};
  Net() { net = register_module("net", make_net()); }
  StepOutput training_step(const Batch& b, int64_t) override { return loss_of(net, b[0]); }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    return OptimizerConfig({opt}, schedulers_of(opt));
  }
};

torch::Tensor flat(const torch::nn::Module& m) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : m.parameters()) parts.push_back(p.detach().flatten());
  return torch::cat(parts);
}

constexpr int64_t kEpochs = 3, kBatch = 4, kBatches = 10;

/// What the Trainer should do, written out by hand.
torch::Tensor hand_loop(const Scenario& s) {
  auto x = data();
  auto net = make_net();
  std::shared_ptr<torch::optim::Optimizer> opt =
      std::make_shared<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  auto configs = schedulers_of(opt);
  for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
    int64_t n = 1;
    for (const auto& [e, f] : s.accumulate)
      if (epoch >= e) n = f;
    for (int64_t i = 0; i < kBatches; ++i) {
      if (i % n == 0)
        for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
      auto loss = loss_of(net, x.slice(0, i * kBatch, (i + 1) * kBatch));
      (n > 1 ? loss / static_cast<double>(n) : loss).backward();
      const bool last = i + 1 == kBatches;
      if ((i + 1) % n != 0 && !last) continue;
      if (s.clip_algorithm == "norm")
        torch::nn::utils::clip_grad_norm_(net->parameters(), s.clip_val);
      else
        torch::nn::utils::clip_grad_value_(net->parameters(), s.clip_val);
      opt->step();
      configs[0].scheduler->step();
      if (last) configs[1].scheduler->step();
    }
  }
  return flat(*net);
}

std::pair<torch::Tensor, int64_t> with_trainer(const Scenario& s) {
  auto x = data();
  auto model = std::make_shared<Net>();
  DataLoader loader(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{x}), {.batch_size = kBatch});
  AccumulateGradBatches accumulate = s.accumulate.size() == 1 && s.accumulate.begin()->first == 0
                                         ? AccumulateGradBatches(s.accumulate.begin()->second)
                                         : AccumulateGradBatches(s.accumulate);
  Trainer trainer(quiet({.max_epochs = kEpochs, .limit_val_batches = 0, .accumulate_grad_batches = accumulate,
                         .gradient_clip_val = s.clip_val, .gradient_clip_algorithm = s.clip_algorithm,
                         .deterministic = true}));
  trainer.fit(model, loader);
  return {flat(*model), trainer.global_step()};
}

}  // namespace

TEST(Optimization, AccumulationClippingByNormAndSchedulingMatchAHandWrittenLoopBitwise) {
  const Scenario s{{{0, 3}}, "norm", 0.5};
  auto [weights, steps] = with_trainer(s);
  EXPECT_EQ(steps, kEpochs * 4);  // groups of 3 and the short last group of 1
  EXPECT_TRUE(torch::equal(weights, hand_loop(s)));
}

TEST(Optimization, AccumulationScheduleAndClippingByValueMatchAHandWrittenLoopBitwise) {
  const Scenario s{{{1, 2}, {2, 4}}, "value", 0.01};
  auto [weights, steps] = with_trainer(s);
  EXPECT_EQ(steps, 10 + 5 + 3);  // epoch 0: factor 1, epoch 1: 2, epoch 2: 4 (4, 4, 2)
  EXPECT_TRUE(torch::equal(weights, hand_loop(s)));
}

TEST(Optimization, GradientAccumulationSchedulerFactorsAndErrors) {
  GradientAccumulationScheduler cb(std::map<int, int>{{5, 3}, {10, 20}});
  EXPECT_EQ(cb.get_accumulate_grad_batches(0), 1);
  EXPECT_EQ(cb.get_accumulate_grad_batches(4), 1);
  EXPECT_EQ(cb.get_accumulate_grad_batches(5), 3);
  EXPECT_EQ(cb.get_accumulate_grad_batches(9), 3);
  EXPECT_EQ(cb.get_accumulate_grad_batches(100), 20);
  EXPECT_TRUE(cb.going_to_accumulate_grad_batches());
  EXPECT_TRUE(contains(error_of([] { GradientAccumulationScheduler(std::map<int, int>{}); }), "empty"));
  EXPECT_TRUE(contains(error_of([] { GradientAccumulationScheduler(std::map<int, int>{{-1, 2}}); }), "greater than or equal to 0"));
  EXPECT_TRUE(contains(error_of([] { GradientAccumulationScheduler(std::map<int, int>{{0, 0}}); }), "factor should be an int greater than 0"));
  EXPECT_TRUE(contains(error_of([] { Trainer t({.accumulate_grad_batches = std::map<int, int>{{2, 0}}}); }),
                       "accumulate_grad_batches has the entry {2: 0}"));
  // The callback with a Trainer factor other than 1 is rejected, as in Lightning.
  Trainer both(quiet({.callbacks = {std::make_shared<GradientAccumulationScheduler>(std::map<int, int>{{1, 2}})},
                      .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0, .accumulate_grad_batches = 2}));
  EXPECT_TRUE(contains(error_of([&] { both.fit(std::make_shared<BoringModel>()); }), "accumulate_grad_batches=2"));
}

TEST(Optimization, ManualOptimizationRejectsAutomaticClippingAndAccumulation) {
  struct Manual : BoringModel {
    Manual() { automatic_optimization = false; }
  };
  Trainer clip(quiet({.max_epochs = 1, .gradient_clip_val = 1.0}));
  EXPECT_TRUE(contains(error_of([&] { clip.fit(std::make_shared<Manual>()); }),
                       "Automatic gradient clipping is not supported for manual optimization"));
  Trainer accumulate(quiet({.max_epochs = 1, .accumulate_grad_batches = 2}));
  EXPECT_TRUE(contains(error_of([&] { accumulate.fit(std::make_shared<Manual>()); }),
                       "Automatic gradient accumulation is not supported for manual optimization"));
}

TEST(Optimization, ClipGradientsHelperAndHook) {
  struct Clipping : BoringModel {
    std::vector<double> norms;
    void configure_gradient_clipping(torch::optim::Optimizer& opt, std::optional<double> val,
                                     std::optional<std::string> algorithm) override {
      EXPECT_FALSE(val.has_value());  // no Trainer flag
      clip_gradients(opt, 1e-3, "norm");
      std::vector<torch::Tensor> grads;
      for (const auto& p : parameters()) grads.push_back(p.grad().flatten());
      norms.push_back(torch::cat(grads).norm().item<double>());
    }
  };
  auto model = std::make_shared<Clipping>();
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 3, .limit_val_batches = 0}));
  trainer.fit(model);
  ASSERT_EQ(model->norms.size(), 3u);
  for (double n : model->norms) EXPECT_NEAR(n, 1e-3, 1e-6);

  struct Conflict : BoringModel {
    void configure_gradient_clipping(torch::optim::Optimizer& opt, std::optional<double>,
                                     std::optional<std::string>) override {
      clip_gradients(opt, 0.3);
    }
  };
  Trainer flagged(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0, .gradient_clip_val = 0.5}));
  EXPECT_TRUE(contains(error_of([&] { flagged.fit(std::make_shared<Conflict>()); }),
                       "`Trainer(gradient_clip_val=0.5)` and have passed `clip_gradients(gradient_clip_val=0.3)`"));
  EXPECT_TRUE(contains(error_of([] { Trainer t({.gradient_clip_val = -0.1}); }), "gradient_clip_val=-0.1"));
}

TEST(Optimization, GradNormUtilityNamesAndValues) {
  BoringModel m;
  EXPECT_TRUE(grad_norm(m, 2).empty());
  m.layer->weight.mutable_grad() = torch::full({2, 32}, 0.5);
  m.layer->bias.mutable_grad() = torch::tensor({3.0f, -4.0f});
  auto two = grad_norm(m, 2);
  ASSERT_EQ(two.size(), 3u);
  EXPECT_FLOAT_EQ(two.at("grad_2.0_norm/layer.weight").item<float>(), 4.0f);  // sqrt(64 * 0.25)
  EXPECT_FLOAT_EQ(two.at("grad_2.0_norm/layer.bias").item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(two.at("grad_2.0_norm_total").item<float>(), std::sqrt(41.0f));
  auto inf = grad_norm(m, INFINITY, ".");
  EXPECT_FLOAT_EQ(inf.at("grad_inf_norm.layer.bias").item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(inf.at("grad_inf_norm_total").item<float>(), 4.0f);
  EXPECT_TRUE(grad_norm(m, 1.5).count("grad_1.5_norm_total"));
  EXPECT_TRUE(contains(error_of([&] { grad_norm(m, 0); }), "positive number or 'inf'"));
}

TEST(Optimization, TrackGradNormLogsLightningOneNames) {
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                         .track_grad_norm = "inf", .log_every_n_steps = 1}));
  silenced([&] { trainer.fit(std::make_shared<BoringModel>()); });
  auto metrics = trainer.logged_metrics();
  for (const char* key : {"grad_inf_norm/layer.weight_step", "grad_inf_norm/layer.bias_step",
                          "grad_inf_norm_total_step", "grad_inf_norm_total_epoch"})
    EXPECT_TRUE(metrics.count(key)) << key;
  EXPECT_TRUE(contains(error_of([] { Trainer t({.track_grad_norm = 0}); }), "track_grad_norm=0"));
  EXPECT_TRUE(contains(error_of([] { Trainer t({.track_grad_norm = "max"}); }), "track_grad_norm='max'"));
}
