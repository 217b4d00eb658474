// The batch-size scaler: Lightning's `tuner/batch_size_scaling.py` (`_scale_batch_size`,
// `_run_power_scaling`, `_run_binary_scaling`, `_adjust_batch_size`), with its messages.
#include "lightning/tuner/batch_size_scaler.h"

#include "lightning/core/module.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/strategies/parallel.h"
#include "lightning/trainer/trainer.h"
#include "lightning/tuner/attributes.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "tuner/memory.h"
#include "tuner/trial.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <utility>

namespace lightning::tuner {

namespace {

std::string lowered(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}


int64_t as_batch_size(const c10::IValue& v, const std::string& name) {
  if (v.isInt()) return v.toInt();
  if (v.isDouble()) return static_cast<int64_t>(v.toDouble());
  throw MisconfigurationException(
      fmt::format("{} is a {}; accepted: an int batch size", name, v.tagKind()));
}

/// One search: its trials and Lightning's `_adjust_batch_size`.
class Search {
 public:
  Search(Trainer& trainer, LightningModule& model, const BatchSizeScalerOptions& options, detail::Trial& trial)
      : t_(trainer), model_(model), options_(options), trial_(trial) {}

  /// Sets the batch size to `value`, or to the current one times `factor`; returns the new size and
  /// whether it changed. A batch size that already covers the dataset is kept (not changed).
  std::pair<int64_t, bool> adjust(std::optional<int64_t> value, double factor = 1.0, const char* desc = nullptr) {
    const auto& name = options_.batch_arg_name;
    const int64_t batch_size = as_batch_size(lightning_getattr(model_, name), name);
    auto& loop = t_.fit_loop();
    loop.setup_data();
    if (const auto& loader = loop.train_dataloader(); loader && loader->dataset()) {
      const auto length = static_cast<int64_t>(loader->dataset()->size());
      if (batch_size >= length) {
        rank_zero_info(fmt::format("The batch size {} is greater or equal than the length of your dataset.", batch_size));
        return {batch_size, false};
      }
    }
    const int64_t new_size = value ? *value : static_cast<int64_t>(static_cast<double>(batch_size) * factor);
    if (desc) rank_zero_info(fmt::format("Batch size {} {}, trying batch size {}", batch_size, desc, new_size));
    if (new_size < 1)
      throw MisconfigurationException(fmt::format(
          "Batch size {} failed with an out-of-memory error and there is no smaller one to try ({}={}); accepted: a "
          "model whose step fits in memory with batch size 1{}",
          batch_size, name, new_size, options_.max_memory ? ", or a larger max_memory" : ""));
    lightning_setattr(model_, name, new_size);
    return {new_size, new_size != batch_size};
  }

  /// Runs one trial; false when it ran out of memory (any other error propagates).
  bool trial_fits() {
    detail::empty_cuda_cache();
    try {
      std::optional<detail::CPUMemoryBudget> budget;
      if (options_.max_memory) budget.emplace(*options_.max_memory);
      trial_.run_fit_loop(/*reset_progress=*/true);
      return true;
    } catch (const std::exception& e) {
      if (!detail::is_oom_error(e)) throw;
    }
    // What the failed step holds: its gradients (the rest unwound with the exception).
    for (auto& p : model_.parameters()) p.mutable_grad() = torch::Tensor();
    detail::empty_cuda_cache();
    return false;
  }

  /// The train (and validation) dataloaders are requested again, with the new batch size.
  void reset_dataloaders() {
    auto& loop = t_.fit_loop();
    loop.reset_data();
    loop.epoch_loop.val_loop.reset_data();
  }

  int64_t power(int64_t new_size) {
    // Whether a size before the failure fitted: then stop at it, else keep halving.
    bool any_success = false;
    for (int64_t i = 0; i < options_.max_trials; ++i) {
      if (trial_fits()) {
        bool changed = false;
        std::tie(new_size, changed) = adjust(std::nullopt, 2.0, "succeeded");
        if (!changed) break;
        reset_dataloaders();
        any_success = true;
      } else {
        new_size = adjust(std::nullopt, 0.5, "failed").first;
        reset_dataloaders();
        if (any_success) break;
      }
    }
    return new_size;
  }

  int64_t binsearch(int64_t new_size) {
    int64_t low = 1;
    std::optional<int64_t> high;
    int64_t count = 0;
    while (true) {
      if (trial_fits()) {
        if (++count > options_.max_trials) break;
        low = new_size;
        bool changed = false;
        if (high) {
          if (*high - low <= 1) break;
          std::tie(new_size, changed) = adjust((*high + low) / 2, 1.0, "succeeded");
        } else {
          std::tie(new_size, changed) = adjust(std::nullopt, 2.0, "succeeded");
        }
        if (!changed) break;
        reset_dataloaders();
      } else {
        high = new_size;
        new_size = adjust((*high + low) / 2, 1.0, "failed").first;
        reset_dataloaders();
        if (*high - low <= 1) break;
      }
    }
    return new_size;
  }

 private:
  Trainer& t_;
  LightningModule& model_;
  const BatchSizeScalerOptions& options_;
  detail::Trial& trial_;
};

}  // namespace

void validate_options(const BatchSizeScalerOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw MisconfigurationException(message);
  };
  require(o.method == "fit", fmt::format("method='{}' is invalid for the batch size scaler; accepted: 'fit' (the "
                                         "trials run the fit loop)",
                                         o.method));
  const auto mode = lowered(o.mode);
  require(mode == "power" || mode == "binsearch",
          fmt::format("mode='{}' is invalid for the batch size scaler; accepted: 'power', 'binsearch'", o.mode));
  require(o.steps_per_trial >= 1,
          fmt::format("steps_per_trial={} is invalid; accepted: an int >= 1", o.steps_per_trial));
  require(o.init_val >= 1, fmt::format("init_val={} is invalid; accepted: an int >= 1", o.init_val));
  require(o.max_trials >= 0, fmt::format("max_trials={} is invalid; accepted: an int >= 0", o.max_trials));
  require(!o.batch_arg_name.empty(), "batch_arg_name='' is invalid; accepted: the name of the batch size attribute");
  if (o.max_memory)
    require(*o.max_memory > 0,
            fmt::format("max_memory={} is invalid; accepted: a number of bytes > 0, or unset", *o.max_memory));
}

void check_scale_batch_size(const Trainer& trainer, const LightningModule& model, const std::string& batch_arg_name) {
  if (dynamic_cast<const strategies::ParallelStrategy*>(&trainer.strategy()))
    throw MisconfigurationException(fmt::format(
        "The Batch size finder is not supported with distributed strategies (strategy '{}'); accepted: a "
        "single-process strategy",
        trainer.strategy().name()));
  if (detail::TrainerAccess::train_dataloader_given(trainer))
    throw MisconfigurationException(
        "The Batch size finder cannot be used with dataloaders passed directly to `.fit()`. Please disable the "
        "feature or incorporate the dataloader into your LightningModule or LightningDataModule; accepted: a "
        "train_dataloader() hook of the module or datamodule that builds its loader with the batch size");
  if (!lightning_hasattr(model, batch_arg_name))
    throw MisconfigurationException(fmt::format(
        "Field {0} not found in `model`, `datamodule`, nor their `hparams` attributes; accepted: batch_arg_name naming "
        "a hyperparameter of the module (save_hyperparameters({{{{\"{0}\", ...}}}})) or an attribute the module or "
        "datamodule exposes through lightning::tuner::Attributes",
        batch_arg_name));
  const auto* attrs = dynamic_cast<const Attributes*>(&model);
  if (attrs && attrs->has_attribute(batch_arg_name) && model.hparams().contains(batch_arg_name))
    rank_zero_warn(fmt::format(
        "Field `model.{0}` and `model.hparams.{0}` are mutually exclusive! `model.{0}` will be used as the initial "
        "batch size for scaling. If this is not the intended behavior, please remove either one.",
        batch_arg_name));
}

std::optional<int64_t> scale_batch_size(Trainer& trainer, LightningModule& model,
                                        const BatchSizeScalerOptions& options) {
  validate_options(options);
  if (trainer.fast_dev_run() > 0) {
    rank_zero_warn("Skipping batch size scaler since `fast_dev_run` is enabled.");
    return std::nullopt;
  }
  check_scale_batch_size(trainer, model, options.batch_arg_name);
  detail::Trial trial(trainer, {});
  // Lightning's `__scale_batch_reset_params`: every batch of the epoch may run, `steps_per_trial` steps.
  trial.options().limit_train_batches = BatchLimit(1.0);
  trial.options().limit_val_batches = BatchLimit(options.steps_per_trial);
  trial.options().max_steps = options.steps_per_trial;
  Search search(trainer, model, options, trial);
  int64_t new_size = search.adjust(options.init_val).first;
  search.reset_dataloaders();
  new_size = lowered(options.mode) == "power" ? search.power(new_size) : search.binsearch(new_size);
  detail::empty_cuda_cache();
  rank_zero_info(fmt::format("Finished batch size finder, will continue with full run using batch size {}", new_size));
  trial.restore();
  // The restored datamodule state may hold the batch size too: the result is written last.
  lightning_setattr(model, options.batch_arg_name, new_size);
  return new_size;
}

}  // namespace lightning::tuner
