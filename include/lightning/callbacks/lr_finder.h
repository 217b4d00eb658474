#pragma once
/// LearningRateFinder: Lightning's callback that runs the learning-rate finder when `fit` starts
/// (tuner/lr_finder.h), writes its suggestion to the module's `lr` (update_attr), and lets the
/// fit continue with it.
///
///     Trainer trainer({.callbacks = {std::make_shared<lightning::LearningRateFinder>(1e-6, 1.0, 100)}});
///     trainer.fit(model);
///
/// Subclass it and override `on_fit_start` (to do nothing) and, say, `on_train_epoch_start` to
/// sweep again at chosen epochs (Lightning's fine-tuning example); `lr_find` runs one sweep.
#include "lightning/callbacks/callback.h"
#include "lightning/tuner/options.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace lightning {

namespace tuner {
class LRFinder;
class Tuner;
}  // namespace tuner

class LearningRateFinder : public Callback {
 public:
  /// Lightning's arguments. Throws MisconfigurationException for a mode other than
  /// "exponential" or "linear" (any case), and for the other invalid values lr_find rejects.
  explicit LearningRateFinder(double min_lr = 1e-8, double max_lr = 1.0, int64_t num_training_steps = 100,
                              std::string mode = "exponential", std::optional<double> early_stop_threshold = 4.0,
                              bool update_attr = true, std::string attr_name = "");
  explicit LearningRateFinder(tuner::LRFinderOptions options);

  /// Runs one sweep now (in a running fit, once the optimizers exist).
  void lr_find(Trainer& trainer, LightningModule& module);
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  /// Lightning's `optimal_lr`: the last sweep's results (nullptr before one ran, or under fast_dev_run).
  std::shared_ptr<tuner::LRFinder> optimal_lr() const { return optimal_lr_; }
  const tuner::LRFinderOptions& options() const { return options_; }

 private:
  friend class tuner::Tuner;
  tuner::LRFinderOptions options_;
  std::shared_ptr<tuner::LRFinder> optimal_lr_;
  /// Set by the Tuner: the fit ends after the sweep.
  bool early_exit_ = false;
};

}  // namespace lightning
