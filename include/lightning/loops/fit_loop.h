#pragma once
/// FitLoop: epochs of training until a stopping condition (max_epochs, max_steps,
/// should_stop with min_epochs/min_steps met).
#include "lightning/loops/progress.h"
#include "lightning/loops/training_epoch_loop.h"

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

  Progress epoch_progress;
  TrainingEpochLoop epoch_loop;

 private:
  void run_sanity_check();
  Trainer& trainer_;
};

}  // namespace lightning
