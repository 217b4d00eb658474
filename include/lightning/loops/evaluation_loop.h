#pragma once
/// EvaluationLoop: one pass of `validation_step` or `test_step` over every evaluation dataloader.
#include "lightning/data/dataloader.h"
#include "lightning/logging/result_collection.h"
#include "lightning/loops/progress.h"
#include "lightning/trainer/state.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lightning {

class Trainer;

class EvaluationLoop {
 public:
  /// `stage` is Validating (also used for the sanity check) or Testing.
  EvaluationLoop(Trainer& trainer, RunningStage stage);
  /// Requests the stage's dataloaders (given to the entry point, the datamodule's, or the
  /// module's hook) and counts their batches under the limit flag. Within a fit, done once and
  /// then every `reload_dataloaders_every_n_epochs` epochs.
  void setup_data();
  /// Forgets the dataloaders (a new run attaches new sources).
  void reset_data();
  /// Runs `max_batches()` batches of each dataloader (`sanity_check`: at most
  /// `num_sanity_val_steps`); returns, per dataloader, the epoch metrics logged for it (what
  /// `validate`/`test` return).
  std::vector<std::map<std::string, double>> run(bool sanity_check = false);

  const std::vector<DataLoader>& dataloaders() const { return dataloaders_; }
  /// Batches per dataloader after the limit flag.
  const std::vector<int64_t>& max_batches() const { return max_batches_; }
  /// What the sanity check runs: `num_sanity_val_steps` batches of each, at most.
  std::vector<int64_t> sanity_check_batches() const;
  /// The dataloaders were requested in this run.
  bool data_loaded() const { return loaded_; }
  ResultCollection& results() { return results_; }
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
  std::vector<DataLoader> dataloaders_;
  std::vector<int64_t> max_batches_;
  bool loaded_ = false;
  int64_t last_reload_epoch_ = 0;
  /// Batches seen per dataloader since its loaders were set up, sanity checks excluded: the step
  /// of evaluation step-level rows.
  std::vector<int64_t> logged_steps_;
};

}  // namespace lightning
