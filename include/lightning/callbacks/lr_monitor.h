#pragma once
/// LearningRateMonitor: logs each optimizer's learning rate (and optionally momentum and
/// weight decay) to the loggers, with Lightning's names (`lr-SGD`, `lr-Adam/pg2`, `lr-Adam-1`,
/// `lr-SGD-momentum`, or the scheduler config's `name`).
#include "lightning/callbacks/callback.h"

#include <optional>
#include <string>
#include <vector>

namespace lightning {

class LearningRateMonitor : public Callback {
 public:
  /// `logging_interval`: "step", "epoch", or unset (each scheduler's own interval; optimizers
  /// without a scheduler are logged at both points). Throws MisconfigurationException otherwise.
  explicit LearningRateMonitor(std::optional<std::string> logging_interval = std::nullopt, bool log_momentum = false,
                               bool log_weight_decay = false);
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;
  /// The metric names, one list per scheduler config and then per optimizer without a
  /// scheduler (set in on_train_start).
  const std::vector<std::vector<std::string>>& names() const { return names_; }

 private:
  /// The values of the entries due at `interval` ("step" or "epoch").
  std::map<std::string, double> extract_stats(const char* interval) const;
  void log_stats(Trainer& trainer, const char* interval);
  struct Entry {
    torch::optim::Optimizer* optimizer;
    std::optional<std::string> interval;  // a scheduler's; none: an optimizer without scheduler
  };
  std::optional<std::string> logging_interval_;
  bool log_momentum_, log_weight_decay_;
  std::vector<std::vector<std::string>> names_;
  std::vector<Entry> entries_;
};

}  // namespace lightning
