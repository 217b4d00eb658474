#pragma once
/// DeviceStatsMonitor: logs the accelerator's figures (a GPU's memory statistics, the CPU's load
/// and memory) at the start and end of every training, validation and test batch that logs, under
/// Lightning's names: `DeviceStatsMonitor.on_train_batch_start/cpu_percent`.
#include "lightning/callbacks/callback.h"

#include <optional>

namespace lightning {

class DeviceStatsMonitor : public Callback {
 public:
  /// `cpu_stats`: unset, the CPU's figures only when training on the CPU; true, also next to a
  /// GPU's; false, never (nothing is logged on the CPU then).
  explicit DeviceStatsMonitor(std::optional<bool> cpu_stats = std::nullopt) : cpu_stats_(cpu_stats) {}

  /// Throws MisconfigurationException when fitting without a logger.
  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  void on_train_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_validation_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                               const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;

 private:
  void log_device_stats(Trainer& trainer, const char* hook) const;
  std::optional<bool> cpu_stats_;
};

}  // namespace lightning
