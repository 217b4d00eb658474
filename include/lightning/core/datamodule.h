#pragma once
/// LightningDataModule: everything about data in one object.
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/data/dataloader.h"

#include <torch/types.h>

#include <map>
#include <string>

namespace lightning {

/// Override the hooks you need; the Trainer calls `prepare_data`, `setup(stage)`, the
/// `*_dataloader()` of the stage, and `teardown(stage)`, as Lightning does.
/// `stage` is "fit", "validate", "test" or "predict".
class LightningDataModule {
 public:
  virtual ~LightningDataModule() = default;
  /// Download or prepare data once per node (called on one process).
  virtual void prepare_data() {}
  virtual void setup(const std::string& stage) {}
  virtual void teardown(const std::string& stage) {}
  /// Empty results mean "not provided".
  virtual DataLoaders train_dataloader() { return {}; }
  virtual DataLoaders val_dataloader() { return {}; }
  virtual DataLoaders test_dataloader() { return {}; }
  virtual DataLoaders predict_dataloader() { return {}; }
  /// State stored in checkpoints under the datamodule's class name (when not empty).
  virtual Dict state_dict() const { return new_dict(); }
  virtual void load_state_dict(const Dict& state) {}
};

}  // namespace lightning
