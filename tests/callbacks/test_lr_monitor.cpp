// LearningRateMonitor: Lightning's names, logging points and errors.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <torch/optim/adam.h>

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;

TEST(LearningRateMonitor, LogsEachOptimizerAtLoggingSteps) {
  auto logger = std::make_shared<RecordingLogger>();
  auto monitor = std::make_shared<LearningRateMonitor>(std::nullopt, /*log_momentum=*/true);
  Trainer trainer(quiet({.logger = logger, .callbacks = {monitor}, .max_epochs = 1, .limit_train_batches = 4,
                         .limit_val_batches = 0, .log_every_n_steps = 2}));
  silenced([&] { trainer.fit(std::make_shared<BoringModel>()); });
  std::vector<int64_t> steps;
  for (const auto& row : logger->rows)
    if (row.metrics.count("lr-SGD")) {
      steps.push_back(*row.step);
      EXPECT_DOUBLE_EQ(row.metrics.at("lr-SGD"), 0.1);
      EXPECT_DOUBLE_EQ(row.metrics.at("lr-SGD-momentum"), 0.0);
    }
  // Epoch start (step 0) and the batches that start a logging step (1 and 3).
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 1, 3}));
}

TEST(LearningRateMonitor, NamesParamGroupsAndRepeatedOptimizers) {
  struct TwoGroups : BoringModel {
    OptimizerConfig configure_optimizers() override {
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(std::vector<torch::Tensor>{layer->weight},
                          std::make_unique<torch::optim::AdamOptions>(0.01));
      groups.emplace_back(std::vector<torch::Tensor>{layer->bias}, std::make_unique<torch::optim::AdamOptions>(0.02));
      return std::make_shared<torch::optim::Adam>(groups);
    }
  };
  auto logger = std::make_shared<RecordingLogger>();
  auto monitor = std::make_shared<LearningRateMonitor>("epoch", false, /*log_weight_decay=*/true);
  Trainer trainer(quiet({.logger = logger, .callbacks = {monitor}, .max_epochs = 2, .limit_train_batches = 2,
                         .limit_val_batches = 0}));
  silenced([&] { trainer.fit(std::make_shared<TwoGroups>()); });
  ASSERT_EQ(monitor->names().size(), 1u);
  EXPECT_EQ(monitor->names()[0], (std::vector<std::string>{"lr-Adam/pg1", "lr-Adam/pg2"}));
  int rows = 0;
  for (const auto& row : logger->rows)
    if (row.metrics.count("lr-Adam/pg1")) {
      ++rows;
      EXPECT_DOUBLE_EQ(row.metrics.at("lr-Adam/pg2"), 0.02);
      EXPECT_DOUBLE_EQ(row.metrics.at("lr-Adam/pg1-weight_decay"), 0.0);
    }
  EXPECT_EQ(rows, 2);  // one per epoch
}

TEST(LearningRateMonitor, Errors) {
  EXPECT_TRUE(contains(error_of([] { LearningRateMonitor m("batch"); }), "logging_interval='batch'"));
  Trainer trainer(quiet({.callbacks = {std::make_shared<LearningRateMonitor>()}, .max_epochs = 1}));
  auto err = error_of([&] { silenced([&] { trainer.fit(std::make_shared<BoringModel>()); }); });
  EXPECT_TRUE(contains(err, "no logger")) << err;
}
