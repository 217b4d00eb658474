#pragma once
/// EarlyStopping: stops training when a monitored metric stops improving (Lightning's
/// callback, same options, messages and checkpoint state).
#include "lightning/callbacks/callback.h"

#include <optional>
#include <string>

namespace lightning {

struct EarlyStoppingOptions {
  /// The metric to watch (a key of `trainer.callback_metrics()`); required.
  std::string monitor;
  /// The smallest change that counts as an improvement.
  double min_delta = 0.0;
  /// Checks without improvement before stopping (checks happen after each validation, or
  /// each training epoch with `check_on_train_epoch_end`).
  int64_t patience = 3;
  bool verbose = false;
  /// "min" or "max".
  std::string mode = "min";
  /// A missing metric is an error (true) or a warning (false).
  bool strict = true;
  /// Stop when the metric becomes NaN or infinite.
  bool check_finite = true;
  /// Stop as soon as the metric is better than this.
  std::optional<double> stopping_threshold;
  /// Stop as soon as the metric is worse than this.
  std::optional<double> divergence_threshold;
  /// Check at the end of each training epoch (true) or after validation (false). Unset:
  /// at the training epoch's end when validation runs exactly once per epoch... as Lightning.
  std::optional<bool> check_on_train_epoch_end;
  bool log_rank_zero_only = false;
};

class EarlyStopping : public Callback {
 public:
  /// Throws MisconfigurationException for an empty monitor or an invalid mode.
  explicit EarlyStopping(EarlyStoppingOptions options);
  /// Checks since the last improvement.
  int64_t wait_count = 0;
  /// The epoch it stopped in (0 when it did not).
  int64_t stopped_epoch = 0;
  /// The best value so far (+inf for "min", -inf for "max" before the first check).
  torch::Tensor best_score;
  int64_t patience() const { return options_.patience; }
  const EarlyStoppingOptions& options() const { return options_; }

  std::string state_key() const override;
  Dict state_dict() const override;
  void load_state_dict(const Dict& state) override;
  bool monitors_metrics() const override { return true; }
  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;

 private:
  bool should_skip_check(Trainer& trainer) const;
  void run_early_stopping_check(Trainer& trainer);
  /// (should_stop, reason) for the new value.
  std::pair<bool, std::string> evaluate_stopping_criteria(double current);
  bool better(double a, double b) const { return options_.mode == "min" ? a < b : a > b; }

  EarlyStoppingOptions options_;
  double min_delta_;
  std::optional<bool> check_on_train_epoch_end_;
};

}  // namespace lightning
