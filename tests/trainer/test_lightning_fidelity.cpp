// Behaviour that differed from Python Lightning 2.2.5 when the same scenario ran in both (issue 11).
// Each expectation is what Lightning 2.2.5 itself did (recorded with its source at the release tag
// on Debian's python3-torch; tests/checkpoint/golden/ has the script and the files).
#include "helpers/boring_model.h"

#include <gtest/gtest.h>

#include <torch/nn/functional/loss.h>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// 64 samples of 32 features that do not depend on the random generator.
std::shared_ptr<TensorDataset> fixed_dataset() {
  auto x = torch::sin(torch::arange(64 * 32, torch::kFloat).reshape({64, 32}) * 0.37);
  return std::make_shared<TensorDataset>(std::vector<torch::Tensor>{x});
}

DataLoader fixed_loader(int64_t batch_size = 4) { return DataLoader(fixed_dataset(), {.batch_size = batch_size}); }

std::vector<std::string> keys_of(const auto& map) {
  std::vector<std::string> out;
  for (const auto& [key, value] : map) out.push_back(key);
  return out;
}

}  // namespace

TEST(LightningFidelity, MidWindowValidationKeepsTheAccumulatedGradients) {
  // accumulate_grad_batches=3, validation every 2 batches: windows [0,1,2] [3,4,5] [6,7].
  struct Recording : BoringModel {
    std::vector<int64_t> zero_grad_after;
    int64_t last_batch = -1;
    void on_train_batch_end(const StepOutput&, const Batch&, int64_t i) override { last_batch = i; }
    void on_validation_model_zero_grad() override {
      zero_grad_after.push_back(last_batch);
      BoringModel::on_validation_model_zero_grad();
    }
  };
  auto run = [](bool validate) {
    torch::manual_seed(3);
    auto model = std::make_shared<Recording>();
    Trainer trainer(quiet({.max_epochs = 1,
                           .limit_train_batches = 8,
                           .limit_val_batches = validate ? 2 : 0,
                           .val_check_interval = 2,
                           .num_sanity_val_steps = 0,
                           .accumulate_grad_batches = 3}));
    trainer.fit(model, fixed_loader(), fixed_loader());
    EXPECT_EQ(trainer.global_step(), 3);
    return std::pair{model->layer->weight.detach().clone(), model->zero_grad_after};
  };
  const auto [with_validation, zero_grads] = run(true);
  const auto [without_validation, none] = run(false);
  EXPECT_TRUE(torch::equal(with_validation, without_validation));
  // Lightning frees the gradients only where a window ended (after batches 5 and 7, not 1 and 3).
  EXPECT_EQ(zero_grads, (std::vector<int64_t>{5, 7}));
}

TEST(LightningFidelity, ModelTrainHooksRunAfterEveryEvaluation) {
  struct Counting : BoringModel {
    int val_train = 0, test_train = 0;
    std::vector<bool> training_when_called;
    void on_validation_model_train() override {
      ++val_train;
      training_when_called.push_back(is_training());
      train();
    }
    void on_test_model_train() override {
      ++test_train;
      training_when_called.push_back(is_training());
      train();
    }
  };
  auto model = std::make_shared<Counting>();
  Trainer trainer(quiet({.limit_val_batches = 2, .limit_test_batches = 2}));
  trainer.validate(model, DataLoaders{}, std::nullopt, false);
  EXPECT_EQ(model->val_train, 1);
  trainer.test(model, DataLoaders{}, std::nullopt, false);
  EXPECT_EQ(model->test_train, 1);
  EXPECT_EQ(model->training_when_called, (std::vector<bool>{false, false}));  // still in eval mode, as in Lightning
  EXPECT_TRUE(model->is_training());

  // Not overridden: each submodule gets back its own mode (a frozen submodule stays in eval).
  auto plain = std::make_shared<BoringModel>();
  plain->layer->eval();
  trainer.validate(plain, DataLoaders{}, std::nullopt, false);
  EXPECT_TRUE(plain->is_training());
  EXPECT_FALSE(plain->layer->is_training());
  trainer.test(plain, DataLoaders{}, std::nullopt, false);
  EXPECT_FALSE(plain->layer->is_training());
}

TEST(LightningFidelity, LimitTrainBatchesZeroNeverAsksForTheTrainDataloader) {
  struct Counting : BoringModel {
    int train_requests = 0, val_steps = 0, train_starts = 0;
    DataLoaders train_dataloader() override {
      ++train_requests;
      return BoringModel::train_dataloader();
    }
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      ++val_steps;
      return BoringModel::validation_step(b, i, d);
    }
    void on_train_start() override { ++train_starts; }
  };
  auto model = std::make_shared<Counting>();
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .limit_train_batches = 0}));
  const auto err = silenced([&] { trainer.fit(model); });
  EXPECT_EQ(model->train_requests, 0);
  EXPECT_EQ(model->val_steps, 2);  // the sanity check still runs
  EXPECT_EQ(model->train_starts, 0);
  EXPECT_EQ(trainer.global_step(), 0);
  EXPECT_EQ(trainer.estimated_stepping_batches(), 0);
  EXPECT_EQ(err.find("log_every_n_steps"), std::string::npos) << err;
  EXPECT_EQ(err.find("stopped"), std::string::npos) << err;
}

TEST(LightningFidelity, EvaluationWithoutAModelUsesTheBestCheckpointOfTheLastFit) {
  TempDir tmp;
  auto model = std::make_shared<BoringModel>();
  Trainer trainer(quiet({.max_epochs = 2, .limit_train_batches = 2, .limit_val_batches = 2,
                         .enable_checkpointing = true, .default_root_dir = tmp.str()}));
  trainer.fit(model);
  const auto best = trainer.checkpoint_callback()->best_model_path;
  ASSERT_FALSE(best.empty());
  for (const char* fn : {"validate", "test"}) {
    std::string err = silenced([&] {
      if (std::string(fn) == "validate")
        trainer.validate(nullptr, DataLoaders{}, std::nullopt, false);
      else
        trainer.test(nullptr, DataLoaders{}, std::nullopt, false);
    });
    EXPECT_EQ(trainer.ckpt_path(), best) << fn;
    EXPECT_NE(err.find(std::string("`.") + fn + "(ckpt_path=None)` was called without a model. The best model of the "
                       "previous `fit` call will be used."),
              std::string::npos)
        << err;
  }
  // Without a checkpoint callback the "best" choice fails, as in Lightning.
  Trainer unsaved(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0}));
  unsaved.fit(std::make_shared<BoringModel>());
  try {
    silenced([&] { unsaved.validate(nullptr, DataLoaders{}, std::nullopt, false); });
    FAIL() << "expected MisconfigurationException";
  } catch (const MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find("ModelCheckpoint is not configured"), std::string::npos) << e.what();
  }
  // Without any earlier run there is nothing to use.
  Trainer fresh(quiet({}));
  try {
    fresh.test(nullptr, DataLoaders{}, std::nullopt, false);
    FAIL() << "expected MisconfigurationException";
  } catch (const MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find("`Trainer.test()` requires a `LightningModule` when it hasn't been passed in a "
                                         "previous run"),
              std::string::npos)
        << e.what();
  }
}

TEST(LightningFidelity, ValidationStepRowsCountFromTheFirstRealValidationBatch) {
  struct Logging : BoringModel {
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      log("val_loss", step(b[0]), {.on_step = true, .on_epoch = true});
      return BoringModel::validation_step(b, i, d);
    }
  };
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 2, .limit_train_batches = 8, .limit_val_batches = 2,
                         .log_every_n_steps = 1}));
  trainer.fit(std::make_shared<Logging>());
  std::vector<int64_t> step_rows, epoch_rows;
  for (const auto& row : logger->rows) {
    if (row.metrics.count("val_loss_step")) step_rows.push_back(*row.step);
    if (row.metrics.count("val_loss_epoch")) epoch_rows.push_back(*row.step);
  }
  // Lightning 2.2.5's metrics.csv: the sanity check's two batches count no step.
  EXPECT_EQ(step_rows, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(epoch_rows, (std::vector<int64_t>{7, 15}));

  // Each validate() sets its loaders up again: its rows start at 0 again.
  logger->rows.clear();
  auto model = std::make_shared<Logging>();
  trainer.validate(model, DataLoaders{}, std::nullopt, false);
  trainer.validate(model, DataLoaders{}, std::nullopt, false);
  step_rows.clear();
  for (const auto& row : logger->rows)
    if (row.metrics.count("val_loss_step")) step_rows.push_back(*row.step);
  EXPECT_EQ(step_rows, (std::vector<int64_t>{0, 1, 0, 1}));
}

TEST(LightningFidelity, MetricDictionariesKeepTheOrderKeysWereFirstLogged) {
  struct Logging : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      auto loss = step(b[0]);
      log("zeta", loss, {.prog_bar = true});
      log("alpha", loss * 2, {.prog_bar = true});
      return loss;
    }
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      log("mid", step(b[0]));
      return BoringModel::validation_step(b, i, d);
    }
  };
  for (bool with_logger : {false, true}) {
    TrainerOptions o{.max_epochs = 1, .limit_train_batches = 4, .limit_val_batches = 2};
    if (with_logger) o.logger = std::make_shared<RecordingLogger>();
    Trainer trainer(quiet(o));
    trainer.fit(std::make_shared<Logging>());
    const std::vector<std::string> all = {"zeta", "alpha", "mid"};
    EXPECT_EQ(keys_of(trainer.callback_metrics()), all);
    EXPECT_EQ(keys_of(trainer.logged_metrics()), all);
    EXPECT_EQ(keys_of(trainer.progress_bar_metrics()), (std::vector<std::string>{"zeta", "alpha"}));
  }
}

TEST(LightningFidelity, GradientAccumulationScheduleIsCounted) {
  // Lightning 2.2.5 estimates 24 steps for GradientAccumulationScheduler({0: 1, 1: 3}) over 3
  // epochs of 8 batches and takes 14; we count the schedule (a deliberate difference).
  Trainer trainer(quiet({.callbacks = {std::make_shared<GradientAccumulationScheduler>(std::map<int, int>{{0, 1}, {1, 3}})},
                         .max_epochs = 3,
                         .limit_train_batches = 8,
                         .limit_val_batches = 0}));
  struct Probe : BoringModel {
    int64_t estimated = -1;
    OptimizerConfig configure_optimizers() override {
      estimated = trainer().estimated_stepping_batches();
      return BoringModel::configure_optimizers();
    }
  };
  auto model = std::make_shared<Probe>();
  trainer.fit(model);
  EXPECT_EQ(model->estimated, 14);
  EXPECT_EQ(trainer.global_step(), 14);
}
