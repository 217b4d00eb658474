#pragma once
/// FitLoop: epochs of training until a stopping condition (max_epochs, max_steps,
/// should_stop with min_epochs/min_steps met).
#include "lightning/data/dataloader.h"
#include "lightning/loops/progress.h"
#include "lightning/loops/training_epoch_loop.h"

#include <optional>

namespace lightning {

class Trainer;

class FitLoop {
 public:
  explicit FitLoop(Trainer& trainer);
  /// Requests the train dataloader (given to `fit`, the datamodule's, or the module's hook) and
  /// works out `num_training_batches` and `val_check_batch`: once per fit, then every
  /// `reload_dataloaders_every_n_epochs` epochs (the evaluation loops' rule).
  void setup_data();
  /// Forgets the dataloader (a new run attaches new sources).
  void reset_data();
  void run();
  const std::optional<DataLoader>& train_dataloader() const { return train_dataloader_; }
  /// Batches per epoch after `limit_train_batches` (INT64_MAX when unknown; Lightning's `max_batches`).
  int64_t num_training_batches() const { return num_training_batches_; }
  /// Validation runs every this many training batches (INT64_MAX: at the epoch's end only).
  int64_t val_check_batch() const { return val_check_batch_; }
  /// Training is over: the reason is printed once, as Lightning does.
  bool done();
  /// should_stop may take effect: min_epochs and min_steps are met.
  bool can_stop_early() const;
  int64_t current_epoch() const { return epoch_progress.current.completed; }
  /// Lightning's `loops.fit_loop` layout. The running batch or epoch is saved as complete
  /// (a checkpoint is written from hooks that run after its optimizer step), so a resumed run
  /// continues with the next batch.
  Dict state_dict() const;
  /// Restores the counters; the next `run` continues where the checkpoint was taken,
  /// mid-epoch included.
  void load_state_dict(const Dict& state);

  Progress epoch_progress;
  TrainingEpochLoop epoch_loop;

 private:
  void run_sanity_check();
  Trainer& trainer_;
  std::optional<DataLoader> train_dataloader_;
  int64_t num_training_batches_ = 0;
  int64_t val_check_batch_ = 0;
  int64_t last_reload_epoch_ = 0;
  /// The train dataloader's shuffle seed from a restored checkpoint.
  std::optional<uint64_t> restored_loader_seed_;
};

}  // namespace lightning
