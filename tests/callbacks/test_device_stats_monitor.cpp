// DeviceStatsMonitor: the rows Lightning 2.2.5 logs (hooks, steps, names), the CPU switch, the
// accelerator it asks, and its error without a logger.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <gtest/gtest.h>

#include <set>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// (step, hook) of every row, checking that each row holds exactly `names` under one hook.
std::vector<std::pair<int64_t, std::string>> device_rows(const RecordingLogger& logger,
                                                         const std::set<std::string>& names) {
  std::vector<std::pair<int64_t, std::string>> rows;
  for (const auto& row : logger.rows) {
    std::set<std::string> hooks, got;
    for (const auto& [key, value] : row.metrics) {
      const auto slash = key.find('/');
      hooks.insert(key.substr(0, slash));
      got.insert(key.substr(slash + 1));
    }
    EXPECT_EQ(hooks.size(), 1u);
    EXPECT_EQ(got, names);
    rows.emplace_back(row.step.value_or(-1), *hooks.begin());
  }
  return rows;
}

TrainerOptions monitored(std::shared_ptr<RecordingLogger> logger, std::shared_ptr<Callback> monitor) {
  return quiet({.logger = logger, .callbacks = {monitor}, .max_epochs = 2, .limit_train_batches = 4,
                .limit_val_batches = 2, .limit_test_batches = 3, .num_sanity_val_steps = 0, .log_every_n_steps = 2});
}

}  // namespace

TEST(DeviceStatsMonitor, LogsLightningsRowsOnTheCpu) {
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(monitored(logger, std::make_shared<DeviceStatsMonitor>()));
  silenced([&] {
    trainer.fit(std::make_shared<BoringModel>());
    trainer.test(std::make_shared<BoringModel>());
  });
  for (const auto& row : logger->rows)
    for (const auto& [key, value] : row.metrics) {
      EXPECT_GE(value, 0.0) << key;
      EXPECT_LE(value, 100.0) << key;
    }
  // Lightning 2.2.5, the same run (DeviceStatsMonitor(), 2 epochs of 4 batches, 2 validation
  // batches, then test with 3, log_every_n_steps=2): validation logs in the rows of the epoch's
  // last step, test at the fit's final step.
  const std::string p = "DeviceStatsMonitor.";
  const std::vector<std::pair<int64_t, std::string>> lightning{
      {1, p + "on_train_batch_start"},      {1, p + "on_train_batch_end"},      {3, p + "on_train_batch_start"},
      {3, p + "on_train_batch_end"},        {3, p + "on_validation_batch_start"}, {3, p + "on_validation_batch_end"},
      {5, p + "on_train_batch_start"},      {5, p + "on_train_batch_end"},      {7, p + "on_train_batch_start"},
      {7, p + "on_train_batch_end"},        {7, p + "on_validation_batch_start"}, {7, p + "on_validation_batch_end"},
      {8, p + "on_test_batch_start"},       {8, p + "on_test_batch_end"}};
  EXPECT_EQ(device_rows(*logger, {"cpu_percent", "cpu_swap_percent", "cpu_vm_percent"}), lightning);
}

TEST(DeviceStatsMonitor, CpuStatsFalseLogsNothingOnTheCpu) {
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(monitored(logger, std::make_shared<DeviceStatsMonitor>(false)));
  silenced([&] { trainer.fit(std::make_shared<BoringModel>()); });
  EXPECT_TRUE(logger->rows.empty());
}

TEST(DeviceStatsMonitor, AsksTheTrainersAcceleratorAndUsesTheLoggersSeparator) {
  struct Fixed : accelerators::CPUAccelerator {
    std::map<std::string, double> get_device_stats(const torch::Device&) const override {
      return {{"allocated_bytes.all.current", 1024}, {"num_ooms", 0}};
    }
  };
  struct Dotted : RecordingLogger {
    std::string group_separator() const override { return "."; }
  };
  auto logger = std::make_shared<Dotted>();
  auto options = monitored(logger, std::make_shared<DeviceStatsMonitor>());
  options.accelerator = std::make_shared<Fixed>();
  options.max_epochs = 1;
  options.limit_val_batches = 0;
  Trainer trainer(options);
  silenced([&] { trainer.fit(std::make_shared<BoringModel>()); });
  ASSERT_EQ(logger->rows.size(), 4u);  // start and end of batches 1 and 3
  EXPECT_EQ(logger->rows[0].metrics,
            (std::map<std::string, double>{{"DeviceStatsMonitor.on_train_batch_start.allocated_bytes.all.current", 1024},
                                           {"DeviceStatsMonitor.on_train_batch_start.num_ooms", 0}}));
  EXPECT_EQ(logger->rows[3].step, 3);
}

TEST(DeviceStatsMonitor, FitWithoutALoggerIsAnError) {
  Trainer trainer(quiet({.callbacks = {std::make_shared<DeviceStatsMonitor>()}, .max_epochs = 1}));
  EXPECT_TRUE(contains(error_of([&] { silenced([&] { trainer.fit(std::make_shared<BoringModel>()); }); }),
                       "Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`"));
  // validate/test need none (Lightning checks at fit only).
  EXPECT_NO_THROW(silenced([&] { trainer.validate(std::make_shared<BoringModel>()); }));
}
