// Lightning 2.x's `Tuner` (its methods run plain fits with a finder callback in front) and
// Lightning 1.x's `Trainer.tune` (one run under TrainerFn::Tuning, src/trainer/trainer.cpp).
#include "lightning/tuner/tuner.h"

#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/strategies/parallel.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "tuner/trial.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace lightning {
namespace tuner {

namespace {

template <typename Finder>
void reject_second(const Trainer& trainer, const char* name) {
  for (const auto& cb : detail::TrainerAccess::user_callbacks(const_cast<Trainer&>(trainer)))
    if (dynamic_cast<const Finder*>(cb.get()))
      throw MisconfigurationException(fmt::format(
          "Trainer is already configured with a `{0}` callback. Please remove it if you want to use the Tuner; "
          "accepted: a Trainer without a {0} in its callbacks",
          name));
}

void check_batch_size_tuning(const Trainer& trainer, const BatchSizeScalerOptions& options) {
  validate_options(options);
  if (dynamic_cast<const strategies::ParallelStrategy*>(&trainer.strategy()))
    throw MisconfigurationException(fmt::format(
        "Tuning the batch size is currently not supported with distributed strategies (strategy '{}'); accepted: a "
        "single-process strategy",
        trainer.strategy().name()));
  reject_second<BatchSizeFinder>(trainer, "BatchSizeFinder");
}

}  // namespace

template <typename Fit>
void Tuner::fit_with(std::shared_ptr<Callback> finder, Fit&& fit) {
  auto& callbacks = detail::TrainerAccess::user_callbacks(trainer_);
  callbacks.insert(callbacks.begin(), finder);
  // Lightning: `trainer.callbacks = [cb for cb in trainer.callbacks if cb is not finder]`.
  const auto remove = [&] {
    for (auto* list : {&callbacks, &detail::TrainerAccess::callbacks(trainer_)})
      list->erase(std::remove(list->begin(), list->end(), finder), list->end());
  };
  try {
    fit();
  } catch (...) {
    remove();
    throw;
  }
  remove();
}

std::optional<int64_t> Tuner::scale_batch_size(std::shared_ptr<LightningModule> model,
                                               std::optional<DataLoader> train_dataloader,
                                               DataLoaders val_dataloaders, BatchSizeScalerOptions options) {
  check_batch_size_tuning(trainer_, options);
  auto finder = std::make_shared<BatchSizeFinder>(std::move(options));
  finder->early_exit_ = true;  // the fit ends once the batch size is found
  fit_with(finder, [&] { trainer_.fit(std::move(model), std::move(train_dataloader), std::move(val_dataloaders)); });
  return finder->optimal_batch_size();
}

std::optional<int64_t> Tuner::scale_batch_size(std::shared_ptr<LightningModule> model,
                                               std::shared_ptr<LightningDataModule> datamodule,
                                               BatchSizeScalerOptions options) {
  check_batch_size_tuning(trainer_, options);
  auto finder = std::make_shared<BatchSizeFinder>(std::move(options));
  finder->early_exit_ = true;
  fit_with(finder, [&] { trainer_.fit(std::move(model), std::move(datamodule)); });
  return finder->optimal_batch_size();
}

std::shared_ptr<LRFinder> Tuner::lr_find(std::shared_ptr<LightningModule> model,
                                         std::optional<DataLoader> train_dataloader, DataLoaders val_dataloaders,
                                         LRFinderOptions options) {
  validate_options(options);
  reject_second<LearningRateFinder>(trainer_, "LearningRateFinder");
  auto finder = std::make_shared<LearningRateFinder>(std::move(options));
  finder->early_exit_ = true;
  fit_with(finder, [&] { trainer_.fit(std::move(model), std::move(train_dataloader), std::move(val_dataloaders)); });
  return finder->optimal_lr();
}

std::shared_ptr<LRFinder> Tuner::lr_find(std::shared_ptr<LightningModule> model,
                                         std::shared_ptr<LightningDataModule> datamodule, LRFinderOptions options) {
  validate_options(options);
  reject_second<LearningRateFinder>(trainer_, "LearningRateFinder");
  auto finder = std::make_shared<LearningRateFinder>(std::move(options));
  finder->early_exit_ = true;
  fit_with(finder, [&] { trainer_.fit(std::move(model), std::move(datamodule)); });
  return finder->optimal_lr();
}

}  // namespace tuner

// --- Lightning 1.x's Trainer.tune -----------------------------------------------------------------

namespace {

/// Lightning 1.x's `_determine_lr_attr_name` for the `auto_lr_find` flag (its messages name the flag).
void check_lr_attribute(const LightningModule& model, const LightningDataModule* datamodule, const TunerFlag& flag) {
  if (!flag.value.empty()) {
    if (!tuner::lightning_hasattr(model, flag.value, datamodule))
      throw MisconfigurationException(fmt::format(
          "`auto_lr_find` was set to {}, however could not find this as a field in `model` or `model.hparams`; "
          "accepted: auto_lr_find=true (finds 'lr' or 'learning_rate') or the name of a hyperparameter of the module "
          "or of an attribute exposed through lightning::tuner::Attributes",
          flag.value));
    return;
  }
  for (const char* name : {"lr", "learning_rate"})
    if (tuner::lightning_hasattr(model, name, datamodule)) return;
  throw MisconfigurationException(
      "When `auto_lr_find=True`, either `model` or `model.hparams` should have one of these fields: ('lr', "
      "'learning_rate') overridden; accepted: a module with one of them (save_hyperparameters({{\"lr\", ...}}) or an "
      "attribute exposed through lightning::tuner::Attributes), or auto_lr_find set to the name it has");
}

}  // namespace

tuner::TuneResult Trainer::tune(std::shared_ptr<LightningModule> model, std::optional<DataLoader> train_dataloader,
                                DataLoaders val_dataloaders, tuner::BatchSizeScalerOptions scale_batch_size_kwargs,
                                tuner::LRFinderOptions lr_find_kwargs) {
  DataLoaders train;
  if (train_dataloader) train = DataLoaders(std::move(*train_dataloader));
  return run_tune(std::move(model), nullptr, std::move(train), std::move(val_dataloaders),
                  std::move(scale_batch_size_kwargs), std::move(lr_find_kwargs));
}

tuner::TuneResult Trainer::tune(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                                tuner::BatchSizeScalerOptions scale_batch_size_kwargs,
                                tuner::LRFinderOptions lr_find_kwargs) {
  if (!datamodule) throw MisconfigurationException("tune: datamodule is null; accepted: a LightningDataModule");
  return run_tune(std::move(model), std::move(datamodule), {}, {}, std::move(scale_batch_size_kwargs),
                  std::move(lr_find_kwargs));
}

tuner::TuneResult Trainer::run_tune(std::shared_ptr<LightningModule> model,
                                    std::shared_ptr<LightningDataModule> datamodule, DataLoaders train,
                                    DataLoaders val, tuner::BatchSizeScalerOptions scale_batch_size_kwargs,
                                    tuner::LRFinderOptions lr_find_kwargs) {
  if (!model)
    throw MisconfigurationException("`Trainer.tune()` requires a `LightningModule`; accepted: a LightningModule");
  // Lightning 1.x: without either flag there is nothing to tune, and nothing runs.
  if (!auto_scale_batch_size_.enabled && !auto_lr_find_.enabled) return {};
  if (dynamic_cast<const strategies::ParallelStrategy*>(strategy_.get()))
    throw MisconfigurationException(fmt::format(
        "`trainer.tune()` is currently not supported with `Trainer(strategy='{}')`; accepted: a single-process "
        "strategy",
        strategy_->name()));
  // Lightning 1.x's `_check_tuner_configuration`: a finder callback of a flag would run again.
  std::vector<std::string> configured;
  for (const auto& cb : user_callbacks_) {
    if (auto_lr_find_.enabled && dynamic_cast<const LearningRateFinder*>(cb.get())) configured.push_back("LearningRateFinder");
    if (auto_scale_batch_size_.enabled && dynamic_cast<const BatchSizeFinder*>(cb.get()))
      configured.push_back("BatchSizeFinder");
  }
  if (configured.size() == 1)
    throw MisconfigurationException(fmt::format(
        "Trainer is already configured with a `{0}` callback. Please remove it if you want to use the Tuner; "
        "accepted: the {1} flag or a {0} callback",
        configured.front(), configured.front() == "LearningRateFinder" ? "auto_lr_find" : "auto_scale_batch_size"));
  if (configured.size() > 1)
    throw MisconfigurationException(
        "Trainer is already configured with `LearningRateFinder` and `BatchSizeFinder` callbacks. Please remove them "
        "if you want to use the Tuner; accepted: the auto_lr_find/auto_scale_batch_size flags or the callbacks");
  // The flag's mode wins over the kwargs' default (Lightning's `setdefault("mode", flag)`).
  if (!auto_scale_batch_size_.value.empty() && scale_batch_size_kwargs.mode == tuner::BatchSizeScalerOptions{}.mode)
    scale_batch_size_kwargs.mode = auto_scale_batch_size_.value;
  if (auto_scale_batch_size_.enabled) tuner::validate_options(scale_batch_size_kwargs);
  if (auto_lr_find_.enabled) {
    if (!auto_lr_find_.value.empty() && lr_find_kwargs.attr_name.empty()) lr_find_kwargs.attr_name = auto_lr_find_.value;
    tuner::validate_options(lr_find_kwargs);
    if (lr_find_kwargs.update_attr) check_lr_attribute(*model, datamodule.get(), auto_lr_find_);
  }
  tune_scale_batch_size_kwargs_ = std::move(scale_batch_size_kwargs);
  tune_lr_find_kwargs_ = std::move(lr_find_kwargs);
  tune_result_ = {};
  run_tuning_entry(std::move(model), std::move(datamodule), std::move(train), std::move(val));
  // Lightning 1.x: each procedure runs once (`trainer.auto_lr_find = False` after it ran).
  auto_scale_batch_size_ = false;
  auto_lr_find_ = false;
  return std::exchange(tune_result_, {});
}

void Trainer::run_tuning() {
  auto& model = *model_;
  if (auto_scale_batch_size_.enabled)
    tune_result_.scale_batch_size = tuner::scale_batch_size(*this, model, tune_scale_batch_size_kwargs_);
  if (auto_lr_find_.enabled) tune_result_.lr_find = tuner::lr_find(*this, model, tune_lr_find_kwargs_);
}

}  // namespace lightning
