#pragma once
/// CheckpointIO plugins: how checkpoint dictionaries reach storage (Lightning's
/// `lightning.pytorch.plugins.io`).
#include "lightning/plugins/plugin.h"

#include <ATen/core/ivalue.h>

#include <memory>
#include <string>

namespace lightning::plugins {

/// Saves, loads and removes checkpoints. The Trainer and ModelCheckpoint go through the
/// strategy's CheckpointIO; pass your own through `TrainerOptions::plugins`.
class CheckpointIO : public Plugin {
 public:
  /// `checkpoint` is the dictionary of `Trainer::dump_checkpoint`; `path` the target file.
  virtual void save_checkpoint(const c10::IValue& checkpoint, const std::string& path) = 0;
  virtual c10::IValue load_checkpoint(const std::string& path) = 0;
  /// Removing a file that does not exist is not an error.
  virtual void remove_checkpoint(const std::string& path) = 0;
  /// Waits for pending work (asynchronous implementations); called at the end of a run.
  virtual void teardown() {}
};

/// The default: `torch_save` (atomic: temporary file, fsync, rename) and `torch_load`.
class TorchCheckpointIO : public CheckpointIO {
 public:
  void save_checkpoint(const c10::IValue& checkpoint, const std::string& path) override;
  c10::IValue load_checkpoint(const std::string& path) override;
  void remove_checkpoint(const std::string& path) override;
};

/// Saves on a background thread while training goes on. The checkpoint's tensors are copied
/// before `save_checkpoint` returns, so later updates do not leak into the file (views stay
/// views of one copied storage). An error of a background save is rethrown by the next call
/// (save, load, remove or teardown), oldest first, never lost; a save that rethrows does not
/// queue its own checkpoint. Saves happen in order; `load_checkpoint` and `remove_checkpoint`
/// wait for pending saves. The copy's buffers are reused by the next save until `teardown()`.
/// The destructor finishes pending saves and reports uncollected errors on stderr.
class AsyncCheckpointIO : public CheckpointIO {
 public:
  explicit AsyncCheckpointIO(std::shared_ptr<CheckpointIO> checkpoint_io = nullptr);
  ~AsyncCheckpointIO() override;
  void save_checkpoint(const c10::IValue& checkpoint, const std::string& path) override;
  c10::IValue load_checkpoint(const std::string& path) override;
  void remove_checkpoint(const std::string& path) override;
  void teardown() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning::plugins
