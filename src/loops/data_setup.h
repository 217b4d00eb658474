#pragma once
// What the loops' `setup_data` share: loader lengths, overfit's shuffling, and the one reload
// rule of train and evaluation dataloaders.
#include "lightning/data/dataloader.h"

#include <cstdint>

namespace lightning::detail {

/// Batches of `loader`, kUnbounded when it has no length.
int64_t loader_length(const DataLoader& loader);
/// Under `overfit_batches`, the loader without shuffling (with Lightning's warning).
DataLoader maybe_without_shuffle(const DataLoader& loader, bool overfit, const char* which);
/// Throws MisconfigurationException: `Trainer.<entry_point>` found no `<name>` dataloader.
[[noreturn]] void throw_no_dataloader(const char* name, const char* entry_point);
/// Lightning's `_should_reload_train_dl` / `_should_reload_val_dl`: requested once per run, then
/// again every `every_n_epochs` epochs (0: never).
inline bool reload_due(bool loaded, int64_t every_n_epochs, int64_t last_reload_epoch, int64_t epoch) {
  return !loaded || (every_n_epochs > 0 && epoch - last_reload_epoch >= every_n_epochs);
}

}  // namespace lightning::detail
