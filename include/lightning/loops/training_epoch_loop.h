#pragma once
/// TrainingEpochLoop: one training epoch — fetches batches, runs the optimization, decides
/// when to validate and when to stop.
#include "lightning/data/dataloader.h"
#include "lightning/logging/result_collection.h"
#include "lightning/loops/evaluation_loop.h"
#include "lightning/loops/optimization.h"
#include "lightning/loops/progress.h"

namespace lightning {

class Trainer;

class TrainingEpochLoop {
 public:
  explicit TrainingEpochLoop(Trainer& trainer);
  void run(DataLoader& loader);
  int64_t global_step() const { return optimization.optimizer_steps(); }
  /// Index of the current batch within the epoch.
  int64_t batch_idx() const { return batch_progress.current.ready - 1; }
  /// Index of the current batch across epochs.
  int64_t total_batch_idx() const { return batch_progress.total.ready - 1; }
  /// The epoch's batches all ran (or max_steps was hit).
  bool done() const;
  /// Whether this batch only accumulates gradients (no optimizer step).
  bool should_accumulate() const;
  /// The epoch's last batch has run (all batches, or the loader ended).
  bool num_ready_batches_reached() const;
  /// Lightning's `update_lr_schedulers`: steps the configs of `interval` ("step" or "epoch")
  /// whose frequency divides the batch (or epoch) number; `plateau` selects ReduceLROnPlateau
  /// configs (stepped with their monitor's value) or the others.
  void update_lr_schedulers(const char* interval, bool plateau);

  BatchProgress batch_progress;
  /// LR scheduler steps (Lightning's `scheduler_progress`; `current`: this epoch's).
  Progress scheduler_progress{TrackedEvents::ReadyCompleted};
  /// Batches that stepped an optimizer (or would have): the step of logger rows.
  int64_t batches_that_stepped = 0;
  /// The running batch will count in `batches_that_stepped` once its hooks and validation ran.
  bool step_pending = false;
  /// Set by a restored checkpoint: the next `run` starts at this batch of the epoch.
  int64_t resume_batch = 0;
  /// Set by a restored checkpoint taken in `on_train_batch_end` when validation was due
  /// after that batch: the next `run` validates before its first batch.
  bool resume_validation = false;
  /// Set by a Lightning-written checkpoint taken in `on_train_batch_end` (which has none of
  /// our extras): the next `run` works out the rest of that batch (validation, its step count).
  bool finish_interrupted_batch = false;
  bool should_check_val() const;
  ResultCollection results{true};
  EvaluationLoop val_loop;
  AutomaticOptimization optimization;

 private:
  void advance(Batch batch, int64_t batch_idx);
  void run_validation();
  Trainer& trainer_;
  bool skip_rest_of_epoch_ = false;
};

}  // namespace lightning
