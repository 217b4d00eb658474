#pragma once
/// Callback: code that runs at Lightning's hook points without living in the model.
#include "lightning/checkpoint/dict.h"
#include "lightning/core/batch.h"

#include <exception>
#include <map>
#include <string>
#include <typeinfo>

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace lightning {

class Trainer;
class LightningModule;
struct StepOutput;

/// Every Lightning callback hook, as a no-op virtual. Callbacks read the trainer's public
/// state and may set `trainer.should_stop`.
class Callback {
 public:
  virtual ~Callback() = default;

  /// Identifies this callback's state in checkpoints (`checkpoint["callbacks"][state_key]`);
  /// by default its type name. Callbacks that may appear several times add their settings,
  /// as Lightning's ModelCheckpoint does.
  virtual std::string state_key() const;
  /// State saved in checkpoints; an empty dict saves nothing.
  virtual Dict state_dict() const { return new_dict(); }
  virtual void load_state_dict(const Dict& state) {}
  /// Called when a checkpoint is being saved: add to or read `checkpoint`.
  virtual void on_save_checkpoint(Trainer& trainer, LightningModule& module, Dict& checkpoint) {}
  /// Called when `fit` restores a checkpoint, before `load_state_dict`.
  virtual void on_load_checkpoint(Trainer& trainer, LightningModule& module, const Dict& checkpoint) {}

  virtual void setup(Trainer& trainer, LightningModule& module, const std::string& stage) {}
  virtual void teardown(Trainer& trainer, LightningModule& module, const std::string& stage) {}
  virtual void on_fit_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_fit_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_sanity_check_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_sanity_check_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_train_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_train_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_validation_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_validation_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_test_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_test_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_predict_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_predict_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_train_epoch_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_train_epoch_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_validation_epoch_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_validation_epoch_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_test_epoch_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_test_epoch_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_predict_epoch_start(Trainer& trainer, LightningModule& module) {}
  virtual void on_predict_epoch_end(Trainer& trainer, LightningModule& module) {}
  virtual void on_train_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                    int64_t batch_idx) {}
  virtual void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                  const Batch& batch, int64_t batch_idx) {}
  virtual void on_validation_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                         int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                       const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_test_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                   int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                 const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_predict_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                      int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_predict_batch_end(Trainer& trainer, LightningModule& module, const torch::IValue& outputs,
                                    const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_exception(Trainer& trainer, LightningModule& module, const std::exception_ptr& exception) {}
  virtual void on_before_backward(Trainer& trainer, LightningModule& module, const torch::Tensor& loss) {}
  virtual void on_after_backward(Trainer& trainer, LightningModule& module) {}
  virtual void on_before_optimizer_step(Trainer& trainer, LightningModule& module,
                                        torch::optim::Optimizer& optimizer) {}
  virtual void on_before_zero_grad(Trainer& trainer, LightningModule& module,
                                   torch::optim::Optimizer& optimizer) {}

  /// Callbacks that monitor metrics (checkpointing, early stopping) run their
  /// `on_train_epoch_end` after the module's, so they see what it logged (as in Lightning).
  virtual bool monitors_metrics() const { return false; }
};

}  // namespace lightning
