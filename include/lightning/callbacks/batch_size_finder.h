#pragma once
/// BatchSizeFinder: Lightning's callback that scales the batch size when `fit` starts
/// (tuner/batch_size_scaler.h), writes the size found to the module's `batch_size` (or the
/// datamodule's), and lets the fit continue with dataloaders rebuilt at that size.
///
///     Trainer trainer({.callbacks = {std::make_shared<lightning::BatchSizeFinder>("binsearch")}});
///     trainer.fit(model);
///
/// Subclass it and override `on_fit_start` (to do nothing) and `on_train_epoch_start` to scale
/// again at chosen epochs; `scale_batch_size` runs one search.
#include "lightning/callbacks/callback.h"
#include "lightning/tuner/options.h"

#include <cstdint>
#include <optional>
#include <string>

namespace lightning {

namespace tuner {
class Tuner;
}  // namespace tuner

class BatchSizeFinder : public Callback {
 public:
  /// Lightning's arguments, plus the CPU budget `max_memory` (tuner/options.h). Throws
  /// MisconfigurationException for a mode other than "power" or "binsearch" (any case), and for
  /// the other invalid values the scaler rejects.
  explicit BatchSizeFinder(std::string mode = "power", int64_t steps_per_trial = 3, int64_t init_val = 2,
                           int64_t max_trials = 25, std::string batch_arg_name = "batch_size",
                           std::optional<int64_t> max_memory = std::nullopt);
  explicit BatchSizeFinder(tuner::BatchSizeScalerOptions options);

  /// Lightning's checks, before anything runs: a single-process strategy, a train dataloader the
  /// module or datamodule builds, `batch_arg_name` found.
  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  /// Runs one search now (in a running fit, once the optimizers exist).
  void scale_batch_size(Trainer& trainer, LightningModule& module);
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  /// The last search's batch size (`init_val` before one ran; nullopt under fast_dev_run).
  std::optional<int64_t> optimal_batch_size() const { return optimal_batch_size_; }
  const tuner::BatchSizeScalerOptions& options() const { return options_; }

 private:
  friend class tuner::Tuner;
  tuner::BatchSizeScalerOptions options_;
  std::optional<int64_t> optimal_batch_size_;
  /// Set by the Tuner: the fit ends after the search.
  bool early_exit_ = false;
};

}  // namespace lightning
