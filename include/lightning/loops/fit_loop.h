#pragma once
/// FitLoop: epochs of training until a stopping condition (max_epochs, max_steps,
/// should_stop with min_epochs/min_steps met).
#include "lightning/loops/progress.h"
#include "lightning/loops/training_epoch_loop.h"

#include <optional>

namespace lightning {

class Trainer;

class FitLoop {
 public:
  explicit FitLoop(Trainer& trainer);
  void run();
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
  /// The train dataloader's shuffle seed from a restored checkpoint.
  std::optional<uint64_t> restored_loader_seed_;
};

}  // namespace lightning
