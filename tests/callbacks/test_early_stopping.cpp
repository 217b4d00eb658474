// EarlyStopping: patience, min_delta, thresholds, finiteness, strictness, min_epochs and state.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// Runs up to 20 epochs; returns the number of epochs trained.
int64_t epochs_until_stop(std::shared_ptr<EarlyStopping> es, std::vector<double> values, TrainerOptions o = {}) {
  o.callbacks = {es};
  if (!o.max_epochs) o.max_epochs = 20;
  o.limit_train_batches = 2;
  o.limit_val_batches = 1;
  o.num_sanity_val_steps = 0;
  Trainer trainer(quiet(o));
  silenced([&] { trainer.fit(std::make_shared<ScriptedValLoss>(std::move(values))); });
  return trainer.current_epoch();
}

}  // namespace

TEST(EarlyStopping, PatienceAndMinDelta) {
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .patience = 2});
  EXPECT_EQ(epochs_until_stop(es, {1.0, 0.9, 0.95, 0.92, 0.5}), 4);
  EXPECT_EQ(es->stopped_epoch, 3);
  EXPECT_EQ(es->wait_count, 2);
  EXPECT_NEAR(es->best_score.item<double>(), 0.9, 1e-6);
  // Improvements smaller than min_delta do not count.
  auto strict_delta =
      std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .min_delta = 0.2, .patience = 1});
  EXPECT_EQ(epochs_until_stop(strict_delta, {1.0, 0.9, 0.1}), 2);
  // mode="max".
  auto up = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .patience = 1, .mode = "max"});
  EXPECT_EQ(epochs_until_stop(up, {0.1, 0.2, 0.3, 0.25}), 4);
}

TEST(EarlyStopping, ThresholdsAndNonFinite) {
  auto reach = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "val_loss", .patience = 100, .stopping_threshold = 0.25});
  EXPECT_EQ(epochs_until_stop(reach, {1.0, 0.5, 0.2, 0.1}), 3);
  auto diverge = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "val_loss", .patience = 100, .divergence_threshold = 5.0});
  EXPECT_EQ(epochs_until_stop(diverge, {1.0, 2.0, 6.0, 0.1}), 3);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto finite = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .patience = 100});
  EXPECT_EQ(epochs_until_stop(finite, {1.0, nan, 0.5}), 2);
  auto lenient = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "val_loss", .patience = 100, .check_finite = false});
  EXPECT_EQ(epochs_until_stop(lenient, {1.0, nan, 0.5}, {.max_epochs = 3}), 3);
}

TEST(EarlyStopping, RespectsMinEpochsAndTrainEpochEndCheck) {
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .patience = 1});
  EXPECT_EQ(epochs_until_stop(es, {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}, {.min_epochs = 5}), 5);
  // Validation every second epoch: the check follows validation, so patience counts validations.
  auto after_val = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "val_loss", .patience = 2});
  EXPECT_EQ(epochs_until_stop(after_val, {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}, {.check_val_every_n_epoch = 2}), 6);
}

TEST(EarlyStopping, StrictMissingMetricStateAndBadOptions) {
  auto strict = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "acc"});
  auto err = error_of([&] { epochs_until_stop(strict, {1.0}); });
  EXPECT_TRUE(contains(err, "Early stopping conditioned on metric 'acc' which is not available")) << err;
  EXPECT_TRUE(contains(err, "'val_loss'")) << err;
  auto lenient = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "acc", .strict = false});
  EXPECT_EQ(epochs_until_stop(lenient, {1.0}, {.max_epochs = 3}), 3);

  EarlyStopping es({.monitor = "val_loss", .patience = 4});
  EXPECT_EQ(es.state_key(), "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}");
  es.wait_count = 2;
  es.stopped_epoch = 7;
  es.best_score = torch::tensor(0.25, torch::kFloat64);
  EarlyStopping restored({.monitor = "val_loss"});
  restored.load_state_dict(es.state_dict());
  EXPECT_EQ(restored.wait_count, 2);
  EXPECT_EQ(restored.stopped_epoch, 7);
  EXPECT_EQ(restored.patience(), 4);
  EXPECT_DOUBLE_EQ(restored.best_score.item<double>(), 0.25);

  EXPECT_TRUE(contains(error_of([] { EarlyStopping e({.monitor = ""}); }), "monitor=''"));
  EXPECT_TRUE(contains(error_of([] { EarlyStopping e({.monitor = "x", .mode = "up"}); }), "mode='up'"));
  EXPECT_TRUE(contains(error_of([] { EarlyStopping e({.monitor = "x", .patience = -1}); }), "patience=-1"));
}
