#pragma once
/// The batch-size scaler (Lightning's `scale_batch_size`): short trials of the fit loop with a
/// growing batch size until one runs out of memory (CUDA or CPU, or a `max_memory` budget on the
/// CPU) or a limit is reached, then the batch size found is written to the module's
/// hyperparameter or attribute and the dataloaders are rebuilt with it.
///
///     struct Model : lightning::LightningModule {
///       Model() { save_hyperparameters({{"batch_size", 32}}); }
///       lightning::DataLoaders train_dataloader() override {
///         return lightning::DataLoader(dataset, {.batch_size = hparams()["batch_size"].toInt()});
///       }
///     };
///     auto size = lightning::tuner::Tuner(trainer).scale_batch_size(model, std::nullopt, {}, {.mode = "binsearch"});
#include "lightning/tuner/options.h"

#include <cstdint>
#include <optional>
#include <string>

namespace lightning {

class Trainer;
class LightningModule;

namespace tuner {

/// Lightning's `_scale_batch_size`, run inside a fit (or tune) once the optimizers exist
/// (BatchSizeFinder calls it from on_fit_start). Power mode doubles the batch size after every
/// trial that fits and halves it after one that runs out of memory (stopping there once a trial
/// has succeeded); binsearch mode doubles until a failure and then bisects between the last size
/// that fitted and the first that did not. At most `max_trials` increases; a batch size reaching
/// the dataset's length stops the growth. The module, optimizers, schedulers, callbacks and
/// trainer state are restored afterwards; the batch size found stays in `batch_arg_name`. Returns
/// it, or nullopt under `fast_dev_run` (with Lightning's warning). Throws
/// MisconfigurationException for invalid options, dataloaders passed to fit/tune directly, a
/// distributed strategy, or a missing `batch_arg_name`; other errors of a trial propagate.
std::optional<int64_t> scale_batch_size(Trainer& trainer, LightningModule& model,
                                        const BatchSizeScalerOptions& options = {});

/// Throws MisconfigurationException naming the first invalid option (mode in any case).
void validate_options(const BatchSizeScalerOptions& options);

/// What `scale_batch_size` needs before it runs (BatchSizeFinder's `setup` checks): a
/// single-process strategy, a train dataloader the module or datamodule builds (so it can be
/// rebuilt), and `batch_arg_name` found (tuner/attributes.h). Throws MisconfigurationException.
void check_scale_batch_size(const Trainer& trainer, const LightningModule& model, const std::string& batch_arg_name);

}  // namespace tuner
}  // namespace lightning
