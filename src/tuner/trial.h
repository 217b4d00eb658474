#pragma once
// What a tuning procedure changes on the Trainer to run its trials of the fit loop, and puts back
// afterwards: Lightning's `__lr_finder_dump_params` / `__scale_batch_dump_params` with their
// reset and restore, and the `.lr_find_<uuid>.ckpt` / `.scale_batch_size_<uuid>.ckpt` checkpoint
// it writes to `default_root_dir` and restores, which is kept in memory here.
#include "lightning/callbacks/callback.h"
#include "lightning/core/optimizer_config.h"
#include "lightning/loops/progress.h"
#include "lightning/trainer/trainer.h"
#include "trainer/resolved_options.h"

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lightning {
class FitLoop;
class Logger;
}  // namespace lightning

namespace lightning::tuner::detail {

/// The Trainer's internals the tuner changes (it is the Trainer's friend).
struct TrainerAccess {
  static lightning::detail::ResolvedOptions& options(Trainer& t) { return *t.options_; }
  static std::vector<std::shared_ptr<Callback>>& callbacks(Trainer& t) { return t.callbacks_; }
  static std::vector<std::shared_ptr<Callback>>& user_callbacks(Trainer& t) { return t.user_callbacks_; }
  static std::vector<std::shared_ptr<Logger>>& loggers(Trainer& t) { return t.loggers_; }
  static TrainerState& state(Trainer& t) { return t.state_; }
  static std::vector<LRSchedulerConfig>& scheduler_configs(Trainer& t) { return t.scheduler_configs(); }
  /// A train dataloader was passed to fit/tune (it cannot be rebuilt with another batch size).
  static bool train_dataloader_given(const Trainer& t) { return !t.given_train_.empty(); }
  /// What `_checkpoint_connector.restore` does with the checkpoint of `what`.
  static void restore(Trainer& t, const Dict& checkpoint, const std::string& what) {
    t.restore_modules_and_callbacks(checkpoint, what);
    t.restore_training_state(checkpoint, what);
  }
};

/// The fit loop's counters, by value (restoring them through FitLoop::load_state_dict would
/// treat a snapshot taken in on_train_epoch_start as a checkpoint to resume mid-epoch).
struct LoopCounters {
  Progress epoch;
  BatchProgress batch;
  Progress scheduler;
  int64_t batches_that_stepped = 0;
  bool step_pending = false;
  int64_t resume_batch = 0;
  bool resume_validation = false;
  bool finish_interrupted_batch = false;
  Progress step, zero_grad, manual_step;
  BatchProgress val_batch;
  bool val_step_available = true;
  bool val_has_run = false;
  static LoopCounters of(const FitLoop& loop);
  void apply_to(FitLoop& loop) const;
};

/// One tuning procedure's trials. Constructed inside a fit (or tune) run once the optimizers
/// exist: snapshots the trainer, then installs `callbacks` as the only callbacks and a DummyLogger
/// for the loggers (Lightning's "reset params").
class Trial {
 public:
  Trial(Trainer& trainer, std::vector<std::shared_ptr<Callback>> callbacks);
  /// Restores everything when `restore` was not called (an error is propagating).
  ~Trial();
  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;

  /// The flags the trials run under (max_steps, limits); restored afterwards.
  lightning::detail::ResolvedOptions& options();
  /// Runs the fit loop (no sanity check) from the snapshot's counters; `reset_progress`: with the
  /// optimizer steps and epochs at zero (Lightning's `_reset_progress`). The stage is put back
  /// afterwards, whether the run finished or threw.
  void run_fit_loop(bool reset_progress);
  /// Puts back the module's weights, optimizers, schedulers, precision state, callback states,
  /// datamodule state and random generators (from the in-memory checkpoint), the loops' counters,
  /// gradients and train/eval modes, the flags, callbacks, loggers, metrics and state. The
  /// dataloaders are requested anew, as they would have been without the trials (Lightning's
  /// `_reset_dataloaders`; the trials' limits and batch sizes counted their batches).
  void restore();

 private:
  Trainer& t_;
  bool restored_ = false;
  Dict checkpoint_;
  LoopCounters counters_;
  lightning::detail::ResolvedOptions options_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::vector<std::shared_ptr<Logger>> loggers_;
  std::vector<LRSchedulerConfig> scheduler_configs_;
  TrainerState state_;
  bool should_stop_ = false;
  MetricMap callback_metrics_, logged_metrics_;
  ResultCollection* active_results_ = nullptr;
  bool had_train_dataloader_ = false;
  std::vector<torch::Tensor> grads_;
  std::vector<std::pair<torch::nn::Module*, bool>> training_modes_;
};

}  // namespace lightning::tuner::detail
