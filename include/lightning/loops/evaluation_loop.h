#pragma once
/// EvaluationLoop: one pass of `validation_step` or `test_step` over every evaluation dataloader.
#include "lightning/data/dataloader.h"
#include "lightning/logging/result_collection.h"
#include "lightning/loops/progress.h"
#include "lightning/trainer/state.h"

#include <map>
#include <string>
#include <vector>

namespace lightning {

class Trainer;

class EvaluationLoop {
 public:
  /// `stage` is Validating (also used for the sanity check) or Testing.
  EvaluationLoop(Trainer& trainer, RunningStage stage);
  /// Runs `num_batches[i]` batches of each `loaders[i]`; returns, per dataloader, the epoch
  /// metrics logged for it (what `validate`/`test` return).
  std::vector<std::map<std::string, double>> run(std::vector<DataLoader>& loaders,
                                                 const std::vector<int64_t>& num_batches);
  ResultCollection& results() { return results_; }
  /// New dataloaders: the steps of step-level rows start again at 0 (Lightning's `setup_data`).
  void on_dataloaders_reset() { logged_steps_.clear(); }
  BatchProgress batch_progress;
  /// Cleared when the module has no step for this stage (Lightning skips the loop then).
  bool step_available = true;
  /// A run other than the sanity check went through at least one batch (monitoring callbacks
  /// then treat a missing metric as an error rather than a warning).
  bool has_run = false;

 private:
  void run_dataloader(DataLoader& loader, int64_t dataloader_idx, int64_t num_batches);
  void evaluation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  std::vector<std::map<std::string, double>> epoch_outputs(size_t num_dataloaders);

  Trainer& trainer_;
  RunningStage stage_;
  ResultCollection results_{false};
  /// Batches seen per dataloader since its loaders were set up, sanity checks excluded: the step
  /// of evaluation step-level rows.
  std::vector<int64_t> logged_steps_;
};

}  // namespace lightning
