// configure_optimizers' forms and LR scheduler stepping in the Trainer: intervals, frequency,
// accumulation, ReduceLROnPlateau's monitor, the lr_scheduler_step hook, checkpoint state,
// exact resume and the LearningRateMonitor's names.
#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/python.h"

#include <torch/optim/adam.h>

#include <gtest/gtest.h>

#include <cmath>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// A BoringModel whose configure_optimizers is a function of the SGD optimizer, that records
/// the learning rate at each on_train_batch_end and logs "metric" per epoch.
struct ScheduledModel : BoringModel {
  std::function<OptimizerConfig(std::shared_ptr<torch::optim::SGD>)> configure;
  std::vector<double> lrs;
  int scheduler_steps = 0;
  std::vector<std::optional<double>> metrics_seen;
  double logged_metric = 1.0;
  StepOutput training_step(const Batch& b, int64_t i) override {
    log("metric", logged_metric, {.on_step = false, .on_epoch = true});
    return BoringModel::training_step(b, i);
  }
  void on_train_batch_end(const StepOutput&, const Batch&, int64_t) override {
    lrs.push_back(optimizers().front()->param_groups()[0].options().get_lr());
  }
  void lr_scheduler_step(optim::LRScheduler& scheduler, std::optional<double> metric) override {
    ++scheduler_steps;
    metrics_seen.push_back(metric);
    LightningModule::lr_scheduler_step(scheduler, metric);
  }
  OptimizerConfig configure_optimizers() override {
    return configure(std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1)));
  }
};

std::shared_ptr<ScheduledModel> scheduled(std::function<OptimizerConfig(std::shared_ptr<torch::optim::SGD>)> f) {
  auto m = std::make_shared<ScheduledModel>();
  m->configure = std::move(f);
  return m;
}

double last_lr(const LightningModule& m) { return m.optimizers().front()->param_groups()[0].options().get_lr(); }

}  // namespace

TEST(LRSchedulers, EpochIntervalStepsAfterEachEpoch) {
  auto model = scheduled([](auto opt) { return OptimizerConfig{opt, std::make_shared<optim::StepLR>(opt, 1, 0.5)}; });
  Trainer trainer(quiet({.max_epochs = 3, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(model);
  // The learning rate changes after each epoch's last batch (before on_train_batch_end).
  EXPECT_EQ(model->lrs, (std::vector<double>{0.1, 0.05, 0.05, 0.025, 0.025, 0.0125}));
  EXPECT_EQ(model->scheduler_steps, 3);
  ASSERT_EQ(model->lr_schedulers().size(), 1u);
  EXPECT_EQ(trainer.lr_scheduler_configs().front().interval, "epoch");
  EXPECT_EQ(model->lr_schedulers().front()->last_epoch(), 3);
}

TEST(LRSchedulers, StepIntervalWithFrequencyCountsOptimizerStepsUnderAccumulation) {
  auto model = scheduled([](auto opt) {
    return OptimizerConfig{opt, LRSchedulerConfig{.scheduler = std::make_shared<optim::ExponentialLR>(opt, 0.5),
                                                  .interval = "step", .frequency = 2}};
  });
  // 5 batches, accumulation 2: optimizer steps after batches 1, 3 and 4 (the short last group).
  // A step-interval scheduler steps when (batch_idx + 1) % frequency == 0 on stepping batches.
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 5, .limit_val_batches = 0,
                         .accumulate_grad_batches = 2}));
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 3);
  EXPECT_EQ(model->scheduler_steps, 2);  // after batch_idx 1 and 3; batch_idx 4 steps the optimizer only
  EXPECT_DOUBLE_EQ(last_lr(*model), 0.1 * 0.5 * 0.5);
}

TEST(LRSchedulers, ReduceLROnPlateauIsSteppedWithTheMonitoredValue) {
  auto model = scheduled([](auto opt) {
    return OptimizerConfig{opt, LRSchedulerConfig{.scheduler = std::make_shared<optim::ReduceLROnPlateau>(
                                                      opt, optim::ReduceLROnPlateauOptions{.patience = 0}),
                                                  .monitor = "metric"}};
  });
  Trainer trainer(quiet({.max_epochs = 3, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(model);
  ASSERT_EQ(model->metrics_seen.size(), 3u);
  for (const auto& m : model->metrics_seen) EXPECT_EQ(m, std::optional<double>(1.0));
  // Constant metric, patience 0: every epoch after the first reduces by 10.
  EXPECT_NEAR(last_lr(*model), 0.001, 1e-15);
}

TEST(LRSchedulers, MissingMonitorMetricRaisesUnlessNotStrict) {
  auto config = [](bool strict) {
    return [strict](auto opt) {
      return OptimizerConfig{opt, LRSchedulerConfig{.scheduler = std::make_shared<optim::ReduceLROnPlateau>(opt),
                                                    .monitor = "val_acc", .strict = strict}};
    };
  };
  Trainer strict(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0}));
  auto err = error_of([&] { strict.fit(scheduled(config(true))); });
  EXPECT_TRUE(contains(err, "ReduceLROnPlateau conditioned on metric val_acc which is not available")) << err;
  EXPECT_TRUE(contains(err, "'metric'")) << err;
  auto model = scheduled(config(false));
  Trainer lenient(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0}));
  auto printed = silenced([&] { lenient.fit(model); });
  EXPECT_TRUE(contains(printed, "strict is set to `False`. Skipping learning rate update.")) << printed;
  EXPECT_EQ(model->scheduler_steps, 0);
}

TEST(LRSchedulers, ConfigurationErrors) {
  auto fit = [](std::function<OptimizerConfig(std::shared_ptr<torch::optim::SGD>)> f,
                bool automatic = true) {
    auto model = scheduled(std::move(f));
    model->automatic_optimization = automatic;
    Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0}));
    return error_of([&] { trainer.fit(model); });
  };
  EXPECT_TRUE(contains(fit([](auto opt) {
                         return OptimizerConfig({}, {{std::make_shared<optim::StepLR>(opt, 1)}});
                       }),
                       "returned no optimizer but 1 LR scheduler"));
  EXPECT_TRUE(contains(fit([](auto opt) { return OptimizerConfig{opt, std::make_shared<optim::ReduceLROnPlateau>(opt)}; }),
                       "must include a monitor when a `ReduceLROnPlateau`"));
  EXPECT_TRUE(contains(fit([](auto opt) {
                         return OptimizerConfig{opt, LRSchedulerConfig{.scheduler = std::make_shared<optim::StepLR>(opt, 1),
                                                                       .interval = "batch"}};
                       }),
                       "must be \"step\" or \"epoch\" but is \"batch\""));
  EXPECT_TRUE(contains(fit([](auto opt) {
                         auto other = std::make_shared<torch::optim::SGD>(opt->param_groups()[0].params(),
                                                                          torch::optim::SGDOptions(0.1));
                         return OptimizerConfig{opt, std::make_shared<optim::StepLR>(other, 1)};
                       }),
                       "wasn't returned from `configure_optimizers`"));
  EXPECT_TRUE(contains(fit([](auto opt) {
                         auto second = std::make_shared<torch::optim::SGD>(opt->param_groups()[0].params(),
                                                                           torch::optim::SGDOptions(0.1));
                         return OptimizerConfig({opt, second});
                       }),
                       "only supported with manual optimization"));
}

TEST(LRSchedulers, CheckpointHoldsSchedulerStatesInConfigOrder) {
  auto model = scheduled([](auto opt) {
    return OptimizerConfig({opt}, {{std::make_shared<optim::StepLR>(opt, 2, 0.5)},
                                   {.scheduler = std::make_shared<optim::ExponentialLR>(opt, 0.9), .interval = "step"}});
  });
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 3, .limit_val_batches = 0}));
  trainer.fit(model);
  const auto checkpoint = trainer.dump_checkpoint();
  const auto states = checkpoint.at("lr_schedulers").toList();
  ASSERT_EQ(states.size(), 2u);
  const auto step_lr = states.get(0).toGenericDict();
  EXPECT_EQ(step_lr.at("step_size").toInt(), 2);
  EXPECT_EQ(step_lr.at("last_epoch").toInt(), 1);
  const auto exponential = states.get(1).toGenericDict();
  EXPECT_EQ(exponential.at("last_epoch").toInt(), 3);
  EXPECT_EQ(exponential.at("_step_count").toInt(), 4);
}

namespace {

/// Adam with OneCycleLR per step (which also cycles beta1) and shuffled data.
struct OneCycleModel : BoringModel {
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-2));
    auto sched = std::make_shared<optim::OneCycleLR>(opt, optim::OneCycleLROptions{.max_lr = 0.05, .total_steps = 64});
    return {opt, LRSchedulerConfig{.scheduler = sched, .interval = "step"}};
  }
};

struct Finished {
  torch::Tensor weights;
  double lr;
};

Finished train(const std::optional<std::string>& ckpt_path, int64_t max_steps, const std::string& dir) {
  torch::manual_seed(0);
  auto data = random_dataset(64);
  auto model = std::make_shared<OneCycleModel>();
  DataLoader loader(data, {.batch_size = 4, .shuffle = true});
  auto mc = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir, .save_top_k = -1, .every_n_train_steps = 23});
  Trainer trainer(quiet({.callbacks = {mc}, .max_epochs = 4, .max_steps = max_steps, .limit_val_batches = 0,
                         .enable_checkpointing = true, .deterministic = true}));
  silenced([&] { trainer.fit(model, loader, {}, ckpt_path); });
  std::vector<torch::Tensor> parts;
  for (const auto& p : model->parameters()) parts.push_back(p.detach().flatten());
  return {torch::cat(parts), model->lr_schedulers().front()->get_last_lr().front()};
}

}  // namespace

TEST(LRSchedulers, MidEpochResumeWithStepSchedulerIsBitwiseIdentical) {
  TempDir a, b;
  const auto full = train(std::nullopt, 64, a.str());
  train(std::nullopt, 23, b.str());  // stops in the middle of epoch 1
  const auto resumed = train(b.file("epoch=1-step=23.ckpt"), 64, b.str());
  EXPECT_TRUE(torch::equal(full.weights, resumed.weights));
  EXPECT_EQ(full.lr, resumed.lr);
}

TEST(LRSchedulers, LearningRateMonitorNamesSchedulersAndFollowsTheirInterval) {
  auto logger = std::make_shared<RecordingLogger>();
  auto monitor = std::make_shared<LearningRateMonitor>();
  struct Two : BoringModel {
    OptimizerConfig configure_optimizers() override {
      auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      return {opt, LRSchedulerConfig{.scheduler = std::make_shared<optim::StepLR>(opt, 1, 0.5), .interval = "step",
                                     .name = "my-lr"}};
    }
  };
  Trainer trainer(quiet({.logger = logger, .callbacks = {monitor}, .max_epochs = 1, .limit_train_batches = 4,
                         .limit_val_batches = 0, .log_every_n_steps = 1}));
  silenced([&] { trainer.fit(std::make_shared<Two>()); });
  ASSERT_EQ(monitor->names().size(), 1u);
  EXPECT_EQ(monitor->names()[0], std::vector<std::string>{"my-lr"});
  std::vector<double> values;
  std::vector<int64_t> steps;
  for (const auto& row : logger->rows)
    if (row.metrics.count("my-lr")) {
      values.push_back(row.metrics.at("my-lr"));
      steps.push_back(*row.step);
    }
  // A step-interval scheduler is logged at batch starts only, not at the epoch start.
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(values, (std::vector<double>{0.1, 0.05, 0.025, 0.0125}));
}

TEST(LRSchedulers, PythonContinuesTheScheduleFromOurCheckpoint) {
  if (!python_torch_available()) GTEST_SKIP() << "python3-torch is not installed";
  TempDir dir;
  auto model = scheduled([](auto opt) {
    return OptimizerConfig{opt, std::make_shared<optim::CosineAnnealingLR>(opt, 10, 0.01)};
  });
  Trainer trainer(quiet({.max_epochs = 3, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(model);
  trainer.save_checkpoint(dir.file("cosine.ckpt"));
  auto& scheduler = *model->lr_schedulers().front();
  scheduler.step();
  scheduler.step();
  // torch's own CosineAnnealingLR, given our optimizer and scheduler states, takes the same two steps.
  const std::string script = R"PY(
import sys, torch
ckpt = torch.load(sys.argv[1])
p = torch.nn.Parameter(torch.zeros(2, 32))
b = torch.nn.Parameter(torch.zeros(2))
opt = torch.optim.SGD([p, b], lr=0.1)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10, 0.01)
opt.load_state_dict(ckpt['optimizer_states'][0])
sched.load_state_dict(ckpt['lr_schedulers'][0])
for _ in range(2):
    opt.step()
    sched.step()
print(repr(opt.param_groups[0]['lr']))
)PY";
  auto result = run_python(script, dir.file("continue.py"), dir.file("cosine.ckpt"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_DOUBLE_EQ(std::stod(result.output), scheduler.get_last_lr().front()) << result.output;
}
