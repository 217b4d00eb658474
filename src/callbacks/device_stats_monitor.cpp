#include "lightning/callbacks/device_stats_monitor.h"

#include "lightning/accelerators/accelerator.h"
#include "lightning/accelerators/cpu.h"
#include "lightning/loggers/logger.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

namespace lightning {

void DeviceStatsMonitor::setup(Trainer& trainer, LightningModule&, const std::string& stage) {
  if (stage == "fit" && trainer.loggers().empty())
    throw MisconfigurationException(
        "Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`; accepted: logger=true or a logger");
}

void DeviceStatsMonitor::log_device_stats(Trainer& trainer, const char* hook) const {
  // Lightning's: on the batches that write a logger row, from global rank 0 (its loggers' methods
  // are rank-zero only), at the step of the batches that stepped.
  if (!trainer.logger_connector().should_update_logs() || !trainer.is_global_zero()) return;
  const auto device = trainer.strategy().root_device();
  if (device.is_cpu() && cpu_stats_ == false) return;
  auto stats = trainer.accelerator().get_device_stats(device);
  if (cpu_stats_ == true && !device.is_cpu()) stats.merge(accelerators::get_cpu_stats());
  const std::string prefix = std::string("DeviceStatsMonitor.") + hook;
  for (const auto& logger : trainer.loggers()) {
    const auto separator = logger->group_separator();
    std::map<std::string, double> row;
    for (const auto& [name, value] : stats) row.emplace(prefix + separator + name, value);
    logger->log_metrics(row, trainer.batches_that_stepped());
  }
}

void DeviceStatsMonitor::on_train_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t) {
  log_device_stats(trainer, "on_train_batch_start");
}
void DeviceStatsMonitor::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, const Batch&,
                                            int64_t) {
  log_device_stats(trainer, "on_train_batch_end");
}
void DeviceStatsMonitor::on_validation_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t,
                                                   int64_t) {
  log_device_stats(trainer, "on_validation_batch_start");
}
void DeviceStatsMonitor::on_validation_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, const Batch&,
                                                 int64_t, int64_t) {
  log_device_stats(trainer, "on_validation_batch_end");
}
void DeviceStatsMonitor::on_test_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t, int64_t) {
  log_device_stats(trainer, "on_test_batch_start");
}
void DeviceStatsMonitor::on_test_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, const Batch&,
                                           int64_t, int64_t) {
  log_device_stats(trainer, "on_test_batch_end");
}

}  // namespace lightning
