#pragma once
// The Trainer's flags after validation: every "auto" filled, every alias resolved.
#include "lightning/trainer/options.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace lightning::detail {

inline constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

struct ResolvedOptions {
  std::string precision = "32-true";  // resolved: "64-true", "32-true", "bf16-mixed", "16-mixed", ...
  int64_t fast_dev_run = 0;  // batches; 0 = off
  int64_t max_epochs = -1;   // -1 = no limit
  int64_t min_epochs = 0;
  int64_t max_steps = -1;
  std::optional<int64_t> min_steps;
  std::optional<std::chrono::duration<double>> max_time;
  BatchLimit limit_train_batches = 1.0;
  BatchLimit limit_val_batches = 1.0;
  BatchLimit limit_test_batches = 1.0;
  BatchLimit limit_predict_batches = 1.0;
  bool overfit = false;  // overfit_batches > 0: shuffling off for train and val
  BatchLimit val_check_interval = 1.0;
  std::optional<int64_t> check_val_every_n_epoch = 1;
  int64_t num_sanity_val_steps = 2;  // kUnbounded for -1
  int64_t log_every_n_steps = 50;
  bool enable_checkpointing = true;
  bool enable_progress_bar = true;
  bool enable_model_summary = true;
  bool logger_enabled = true;
  int64_t accumulate_grad_batches = 1;
  std::map<int, int> accumulate_grad_batches_schedule;  // the map form: a GradientAccumulationScheduler
  double track_grad_norm = -1;                          // -1: off
  std::optional<double> gradient_clip_val;
  std::string gradient_clip_algorithm = "norm";
  bool inference_mode = true;
  bool detect_anomaly = false;
  int64_t reload_dataloaders_every_n_epochs = 0;
  bool use_distributed_sampler = true;
  std::string default_root_dir;
};

/// Validates `options` and resolves defaults. Throws MisconfigurationException naming the
/// flag, the value and what is accepted.
ResolvedOptions resolve(const TrainerOptions& options);

/// Number of batches to run from a loader of `length` batches (kUnbounded if unknown) under
/// `limit`; throws MisconfigurationException for limits that cannot apply (e.g. a fraction
/// below one batch, or a fraction of an iterable dataset).
int64_t num_batches_under_limit(const std::string& stage, int64_t length, const BatchLimit& limit);

}  // namespace lightning::detail
