// `log` / `log_dict` semantics: defaults per hook, _step/_epoch suffixes, weighted epoch means,
// reduce_fx, prog_bar, logger, add_dataloader_idx, and the three metric dictionaries.
#include "helpers/boring_model.h"

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;

namespace {

double value(const MetricMap& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) {
    ADD_FAILURE() << "no metric " << key;
    return NAN;
  }
  return it->second.item<double>();
}

/// Logs the batch index as the value, so expected means are easy to compute.
struct IndexLogger : BoringModel {
  LogOptions train_options, val_options;
  StepOutput training_step(const Batch& b, int64_t i) override {
    log("train_idx", static_cast<double>(i), train_options);
    return BoringModel::training_step(b, i);
  }
  StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
    log("val_idx", static_cast<double>(i), val_options);
    return BoringModel::validation_step(b, i, d);
  }
};

}  // namespace

TEST(Logging, TrainingStepDefaultsToOnStep) {
  auto m = std::make_shared<IndexLogger>();
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 1, .limit_train_batches = 4, .limit_val_batches = 0,
                         .log_every_n_steps = 1}));
  trainer.fit(m);
  EXPECT_EQ(value(trainer.callback_metrics(), "train_idx"), 3);
  EXPECT_EQ(value(trainer.logged_metrics(), "train_idx"), 3);
  EXPECT_FALSE(trainer.callback_metrics().count("train_idx_epoch"));
  ASSERT_EQ(logger->rows.size(), 4u);  // one per step, no epoch row for a step-only key
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(logger->rows[i].step, i);
    EXPECT_EQ(logger->rows[i].metrics.at("train_idx"), i);
    EXPECT_EQ(logger->rows[i].metrics.at("epoch"), 0);
  }
}

TEST(Logging, OnStepAndOnEpochForkNames) {
  auto m = std::make_shared<IndexLogger>();
  m->train_options = {.prog_bar = true, .on_step = true, .on_epoch = true};
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 1, .limit_train_batches = 4, .limit_val_batches = 0,
                         .log_every_n_steps = 2}));
  trainer.fit(m);
  auto cb = trainer.callback_metrics();
  EXPECT_EQ(value(cb, "train_idx_step"), 3);
  EXPECT_EQ(value(cb, "train_idx_epoch"), 1.5);
  EXPECT_EQ(value(cb, "train_idx"), 1.5);
  auto logged = trainer.logged_metrics();
  EXPECT_EQ(value(logged, "train_idx_step"), 3);
  EXPECT_EQ(value(logged, "train_idx_epoch"), 1.5);
  EXPECT_FALSE(logged.count("train_idx"));
  auto bar = trainer.progress_bar_metrics();
  EXPECT_EQ(bar.at("train_idx_epoch"), 1.5);
  // Rows at steps 1 and 3, then the epoch row at the last step with the epoch key.
  ASSERT_EQ(logger->rows.size(), 3u);
  EXPECT_EQ(logger->rows[0].step, 1);
  EXPECT_EQ(logger->rows[1].step, 3);
  EXPECT_EQ(logger->rows[2].step, 3);
  EXPECT_EQ(logger->rows[2].metrics.at("train_idx_epoch"), 1.5);
  EXPECT_EQ(logger->rows[2].metrics.at("epoch"), 0);
}

TEST(Logging, ValidationDefaultsToOnEpochWeightedByBatchSize) {
  auto m = std::make_shared<IndexLogger>();
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger}));
  // 4 samples in batches of 3 and 1: values 0 (weight 3) and 1 (weight 1) -> mean 0.25.
  auto results = trainer.validate(m, DataLoader(random_dataset(4), {.batch_size = 3}), std::nullopt, false);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].at("val_idx"), 0.25);
  EXPECT_DOUBLE_EQ(value(trainer.callback_metrics(), "val_idx"), 0.25);
  EXPECT_DOUBLE_EQ(value(trainer.logged_metrics(), "val_idx"), 0.25);
  ASSERT_EQ(logger->rows.size(), 1u);
  EXPECT_EQ(logger->rows[0].metrics.at("val_idx"), 0.25);
}

TEST(Logging, ReduceFx) {
  for (auto [fx, expected] : std::vector<std::pair<std::string, double>>{{"max", 3}, {"min", 0}, {"sum", 6}}) {
    auto m = std::make_shared<IndexLogger>();
    m->val_options = {.reduce_fx = fx};
    Trainer trainer(quiet({.limit_val_batches = 4}));
    auto results = trainer.validate(m, DataLoaders{}, std::nullopt, false);
    EXPECT_EQ(results[0].at("val_idx"), expected) << fx;
  }
}

TEST(Logging, LoggerFalseKeepsKeyOutOfLoggedMetrics) {
  auto m = std::make_shared<IndexLogger>();
  m->val_options = {.logger = false};
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .limit_val_batches = 2}));
  trainer.validate(m, DataLoaders{}, std::nullopt, false);
  EXPECT_TRUE(trainer.callback_metrics().count("val_idx"));
  EXPECT_FALSE(trainer.logged_metrics().count("val_idx"));
}

TEST(Logging, AddDataloaderIdxWithSeveralLoaders) {
  auto m = std::make_shared<IndexLogger>();
  Trainer trainer(quiet({.limit_val_batches = 2}));
  auto results = trainer.validate(m, DataLoaders{random_loader(), random_loader()}, std::nullopt, false);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].count("val_idx/dataloader_idx_0"));
  EXPECT_FALSE(results[0].count("val_idx/dataloader_idx_1"));
  EXPECT_TRUE(results[1].count("val_idx/dataloader_idx_1"));
  m->val_options = {.reduce_fx = "sum", .add_dataloader_idx = false};
  auto merged = trainer.validate(m, DataLoaders{random_loader(), random_loader()}, std::nullopt, false);
  EXPECT_EQ(merged[0].at("val_idx"), 2);  // (0 + 1) from each loader
  EXPECT_EQ(merged[1].at("val_idx"), 2);
}

TEST(Logging, ValidationInsideFitReachesCallbackMetrics) {
  auto m = std::make_shared<IndexLogger>();
  struct Seen : Callback {
    std::vector<double> val;
    bool monitors_metrics() const override { return true; }
    void on_train_epoch_end(Trainer& t, LightningModule&) override {
      val.push_back(t.callback_metrics().at("val_idx").item<double>());
    }
  };
  auto seen = std::make_shared<Seen>();
  Trainer trainer(quiet({.callbacks = {seen}, .max_epochs = 2, .limit_train_batches = 2, .limit_val_batches = 3}));
  trainer.fit(m);
  EXPECT_EQ(seen->val, (std::vector<double>{1, 1}));  // mean of 0, 1, 2; sanity-check values are discarded
}

TEST(Logging, LogDictAndTensorValues) {
  struct Dict : BoringModel {
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      log_dict({{"a", torch::tensor(2.0)}, {"b", 3}});
      return BoringModel::validation_step(b, i, d);
    }
  };
  Trainer trainer(quiet({.limit_val_batches = 2}));
  auto results = trainer.validate(std::make_shared<Dict>(), DataLoaders{}, std::nullopt, false);
  EXPECT_EQ(results[0].at("a"), 2);
  EXPECT_EQ(results[0].at("b"), 3);
}

TEST(Logging, ErrorsNameTheKeyAndHook) {
  struct BadHook : BoringModel {
    void on_fit_start() override { log("x", 1.0); }
  };
  try {
    Trainer(quiet({.max_epochs = 1})).fit(std::make_shared<BadHook>());
    FAIL();
  } catch (const MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find("on_fit_start"), std::string::npos) << e.what();
  }
  struct NonScalar : BoringModel {
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      log("vec", torch::ones({3}));
      return {};
    }
  };
  try {
    Trainer(quiet({.limit_val_batches = 1})).validate(std::make_shared<NonScalar>(), DataLoaders{}, std::nullopt, false);
    FAIL();
  } catch (const MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find("'vec'"), std::string::npos) << e.what();
  }
  struct StepInEpochHook : BoringModel {
    void on_train_epoch_end() override { log("x", 1.0, {.on_step = true}); }
  };
  try {
    Trainer(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0}))
        .fit(std::make_shared<StepInEpochHook>());
    FAIL();
  } catch (const MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find("on_step=true"), std::string::npos) << e.what();
  }
  struct BadReduce : BoringModel {
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      log("x", 1.0, {.reduce_fx = "median"});
      return {};
    }
  };
  EXPECT_THROW(Trainer(quiet({.limit_val_batches = 1})).validate(std::make_shared<BadReduce>(), DataLoaders{}, std::nullopt, false),
               MisconfigurationException);
}

TEST(Logging, EpochLevelLoggingFromEpochEndHook) {
  struct EpochEnd : BoringModel {
    void on_train_epoch_end() override { log("epoch_value", static_cast<double>(current_epoch() * 10)); }
  };
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 2, .limit_train_batches = 3, .limit_val_batches = 0}));
  trainer.fit(std::make_shared<EpochEnd>());
  ASSERT_EQ(logger->rows.size(), 2u);
  EXPECT_EQ(logger->rows[0].metrics.at("epoch_value"), 0);
  EXPECT_EQ(logger->rows[0].step, 2);
  EXPECT_EQ(logger->rows[1].metrics.at("epoch_value"), 10);
  EXPECT_EQ(logger->rows[1].metrics.at("epoch"), 1);
  EXPECT_EQ(logger->rows[1].step, 5);
}

// Training rows are refilled in place while the logged keys stay the same; a key logged only on
// some steps, a logged "epoch" and the epoch rows in between must still give Lightning's rows.
TEST(Logging, LoggerRowsFollowTheKeysLoggedAtEachStep) {
  struct SometimesLogs : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      log("a", static_cast<double>(i));
      if (i % 2 == 0) log("b", 10.0 + static_cast<double>(i));
      if (i == 3) log("epoch", 42.0);
      log("hidden", 1.0, {.logger = false});
      log("m", 2.0, {.on_step = false, .on_epoch = true});
      return BoringModel::training_step(b, i);
    }
  };
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 2, .limit_train_batches = 5, .limit_val_batches = 0,
                         .log_every_n_steps = 1}));
  trainer.fit(std::make_shared<SometimesLogs>());
  using Row = std::map<std::string, double>;
  std::vector<std::pair<Row, int64_t>> expected;
  for (int e = 0; e < 2; ++e) {
    const double ep = e;
    expected.push_back({{{"a", 0}, {"b", 10}, {"epoch", ep}}, 5 * e + 0});
    expected.push_back({{{"a", 1}, {"epoch", ep}}, 5 * e + 1});
    expected.push_back({{{"a", 2}, {"b", 12}, {"epoch", ep}}, 5 * e + 2});
    expected.push_back({{{"a", 3}, {"epoch", 42}}, 5 * e + 3});
    expected.push_back({{{"a", 4}, {"b", 14}, {"epoch", ep}}, 5 * e + 4});
    expected.push_back({{{"m", 2}, {"epoch", ep}}, 5 * e + 4});  // the epoch row, at the last step
  }
  ASSERT_EQ(logger->rows.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(logger->rows[i].metrics, expected[i].first) << "row " << i;
    EXPECT_EQ(logger->rows[i].step, expected[i].second) << "row " << i;
  }
  // logged_metrics follows the rows (the last step's values and the epoch value), not `hidden`.
  const auto logged = trainer.logged_metrics();
  EXPECT_DOUBLE_EQ(value(logged, "a"), 4);
  EXPECT_DOUBLE_EQ(value(logged, "m"), 2);
  EXPECT_EQ(logged.count("hidden"), 0u);
}
