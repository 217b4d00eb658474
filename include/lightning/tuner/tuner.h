#pragma once
/// Lightning 2.x's `Tuner(trainer)`: the learning-rate finder and the batch-size scaler, each run
/// as a plain `fit` that stops once the tuning is done (the Trainer is torn down and finished,
/// nothing is trained). Lightning 1.x's `Trainer::tune` with the `auto_lr_find` /
/// `auto_scale_batch_size` flags runs the same procedures (trainer.h).
///
///     lightning::Trainer trainer({.max_epochs = 10});
///     lightning::tuner::Tuner tuner(trainer);
///     auto batch_size = tuner.scale_batch_size(model, std::nullopt, {}, {.mode = "binsearch"});
///     auto finder = tuner.lr_find(model);
///     std::cout << *finder->suggestion() << "\n";
///     trainer.fit(model);                      // with the batch size and learning rate found
#include "lightning/core/datamodule.h"
#include "lightning/core/module.h"
#include "lightning/data/dataloader.h"
#include "lightning/tuner/attributes.h"
#include "lightning/tuner/batch_size_scaler.h"
#include "lightning/tuner/lr_finder.h"
#include "lightning/tuner/options.h"

#include <cstdint>
#include <memory>
#include <optional>

namespace lightning {

class Trainer;

namespace tuner {

class Tuner {
 public:
  explicit Tuner(Trainer& trainer) : trainer_(trainer) {}

  /// Adds a BatchSizeFinder (first of the callbacks) and runs `fit`: the batch size found, or
  /// nullopt under fast_dev_run. The train dataloader must come from the module or datamodule
  /// (it is rebuilt for every trial). Throws MisconfigurationException for a distributed
  /// strategy or a Trainer that already has a BatchSizeFinder.
  std::optional<int64_t> scale_batch_size(std::shared_ptr<LightningModule> model,
                                          std::optional<DataLoader> train_dataloader = std::nullopt,
                                          DataLoaders val_dataloaders = {}, BatchSizeScalerOptions options = {});
  std::optional<int64_t> scale_batch_size(std::shared_ptr<LightningModule> model,
                                          std::shared_ptr<LightningDataModule> datamodule,
                                          BatchSizeScalerOptions options = {});

  /// Adds a LearningRateFinder (first of the callbacks) and runs `fit`: the sweep's results, or
  /// nullptr under fast_dev_run. Throws MisconfigurationException for a method other than "fit"
  /// or a Trainer that already has a LearningRateFinder.
  std::shared_ptr<LRFinder> lr_find(std::shared_ptr<LightningModule> model,
                                    std::optional<DataLoader> train_dataloader = std::nullopt,
                                    DataLoaders val_dataloaders = {}, LRFinderOptions options = {});
  std::shared_ptr<LRFinder> lr_find(std::shared_ptr<LightningModule> model,
                                    std::shared_ptr<LightningDataModule> datamodule, LRFinderOptions options = {});

 private:
  /// Runs `fit` with `finder` first among the trainer's callbacks, removed again afterwards.
  template <typename Fit>
  void fit_with(std::shared_ptr<Callback> finder, Fit&& fit);
  Trainer& trainer_;
};

}  // namespace tuner
}  // namespace lightning
