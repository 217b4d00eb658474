#pragma once
/// The learning-rate finder (Lightning's `lr_find`): a short training run whose learning rate
/// grows every step from `min_lr` to `max_lr`, recording the smoothed loss, and a suggestion
/// where the loss falls fastest.
///
///     lightning::tuner::Tuner tuner(trainer);
///     auto finder = tuner.lr_find(model);          // or Trainer({.auto_lr_find = true}).tune(model)
///     finder->suggestion();                        // also written to hparams()["lr"] (update_attr)
///     finder->plot(/*suggest=*/true);              // <log_dir>/lr_find.svg
#include "lightning/tuner/options.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lightning {

class Trainer;
class LightningModule;

namespace tuner {

/// The results of one sweep (Lightning's `_LRFinder`).
class LRFinder {
 public:
  LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training);

  const std::string& mode() const { return mode_; }
  double lr_min() const { return lr_min_; }
  double lr_max() const { return lr_max_; }
  int64_t num_training() const { return num_training_; }

  /// Lightning's `results["lr"]`: the learning rate of each step, in order.
  std::vector<double> lrs;
  /// Lightning's `results["loss"]`: the smoothed loss after each step (NaN for a step whose
  /// `training_step` returned no loss). The smoothing is Lightning's: an exponential moving
  /// average with beta = 0.98, divided by `1 - beta^(step + 1)` (step counting from 1).
  std::vector<double> losses;

  /// Lightning's suggestion: the learning rate at the steepest descent of the loss, i.e. at the
  /// first argmin of numpy's `gradient` (unit spacing) of `losses[skip_begin:-skip_end]` (Python
  /// slice semantics, so skip_end = 0 leaves nothing; non-finite losses dropped first), indexed
  /// among all losses. Unset (with Lightning's error message printed) when fewer than 2 losses
  /// remain. Throws MisconfigurationException for negative skips.
  std::optional<double> suggestion(int64_t skip_begin = 10, int64_t skip_end = 1);
  /// The index into `lrs`/`losses` of the last suggestion, if it found one.
  std::optional<int64_t> optimal_idx() const { return optimal_idx_; }

  /// Writes the loss against the learning rate (log-scaled axis in "exponential" mode) as an SVG
  /// file with labelled axes and, with `suggest`, the suggestion marked by a red point. `path`:
  /// default `<log_dir>/lr_find.svg`, where log_dir is the trainer's `log_dir()` when the sweep
  /// ran. Written atomically (a temporary file renamed); returns the path.
  std::string plot(bool suggest = false, std::optional<std::string> path = std::nullopt);
  /// The SVG document `plot` writes.
  std::string to_svg(bool suggest = false);

  /// Where `plot` writes by default (set by `lr_find`).
  std::string log_dir;

 private:
  std::string mode_;
  double lr_min_, lr_max_;
  int64_t num_training_;
  std::optional<int64_t> optimal_idx_;
};

/// Lightning's `_lr_find`: runs the sweep inside a running fit (or tune), once the optimizers
/// exist (LearningRateFinder calls it from on_fit_start), then restores the module, optimizer,
/// schedulers, callbacks and trainer state as they were, and with `update_attr` writes the
/// suggestion to the module's learning-rate hyperparameter or attribute. nullptr under
/// `fast_dev_run` (with Lightning's warning). Throws MisconfigurationException for invalid
/// options, more than one optimizer, manual optimization, a distributed strategy, or no
/// learning-rate attribute when `update_attr`.
std::shared_ptr<LRFinder> lr_find(Trainer& trainer, LightningModule& model, const LRFinderOptions& options = {});

/// Throws MisconfigurationException naming the first invalid option (mode in any case).
void validate_options(const LRFinderOptions& options);

/// Lightning's `_determine_lr_attr_name`: `attr_name` when the module has it, else the first
/// of "lr", "learning_rate" it has (tuner/attributes.h). Throws MisconfigurationException.
std::string determine_lr_attr_name(const LightningModule& model, const std::string& attr_name = "");

}  // namespace tuner
}  // namespace lightning
