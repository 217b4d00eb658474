#pragma once
/// The arguments of the tuner's two methods and what `Trainer::tune` returns: light types that
/// trainer.h can name (the machinery is in tuner.h, lr_finder.h and batch_size_scaler.h).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace lightning::tuner {

class LRFinder;

/// Lightning's `Tuner.lr_find(...)` arguments, with its defaults.
struct LRFinderOptions {
  /// The entry point whose dataloaders are swept: only "fit" trains, so only "fit" is accepted.
  std::string method = "fit";
  /// The sweep's first learning rate (> 0 in "exponential" mode).
  double min_lr = 1e-8;
  /// Its last learning rate (> min_lr).
  double max_lr = 1.0;
  /// Optimizer steps of the sweep (one learning rate each).
  int64_t num_training = 100;
  /// "exponential" (each step multiplies the learning rate) or "linear" (each step adds to it).
  std::string mode = "exponential";
  /// Stop when the smoothed loss exceeds this multiple of the best smoothed loss; unset: never.
  std::optional<double> early_stop_threshold = 4.0;
  /// Write the suggestion into the module's hyperparameter or attribute (tuner/attributes.h).
  bool update_attr = true;
  /// The hyperparameter/attribute to write. Empty: `lr`, else `learning_rate` (the first found).
  std::string attr_name;
};

/// Lightning's `Tuner.scale_batch_size(...)` arguments, with its defaults.
struct BatchSizeScalerOptions {
  /// The entry point whose loop runs the trials: "fit" (the only one supported).
  std::string method = "fit";
  /// "power" (double until failure) or "binsearch" (then search between the last two).
  std::string mode = "power";
  /// Optimizer steps per trial.
  int64_t steps_per_trial = 3;
  /// The first batch size tried.
  int64_t init_val = 2;
  /// At most this many increases (power: trials; binsearch: successful trials).
  int64_t max_trials = 25;
  /// The hyperparameter/attribute holding the batch size, looked up in the module's attributes,
  /// its `hparams()`, then the datamodule's attributes (tuner/attributes.h).
  std::string batch_arg_name = "batch_size";
  /// A budget for the CPU: a trial whose tensors need more than this many bytes at once (counted
  /// by a tracking CPU allocator installed around the trial) fails as if out of memory. Unset:
  /// only real out-of-memory errors (CUDA or CPU) stop the growth.
  std::optional<int64_t> max_memory;
};

/// Lightning 1.x's `_TunerResult`: what `Trainer::tune` ran.
struct TuneResult {
  std::shared_ptr<LRFinder> lr_find;
  std::optional<int64_t> scale_batch_size;
};

}  // namespace lightning::tuner
