#pragma once
/// Strategy: how a run uses its devices and processes (Lightning's `Strategy`). It owns the
/// accelerator, the precision plugin and the CheckpointIO, moves the module and each batch to
/// the device, runs every step under the precision context, performs backward and the optimizer
/// step, and provides the collectives (`reduce`, `broadcast`, `barrier`, `all_gather`) that the
/// rest of the library calls whatever the number of processes.
#include "lightning/checkpoint/dict.h"
#include "lightning/core/batch.h"

#include <torch/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace lightning {

class Trainer;
class LightningModule;
struct StepOutput;
namespace accelerators {
class Accelerator;
}  // namespace accelerators
namespace plugins {
class CheckpointIO;
class Precision;
}  // namespace plugins

namespace strategies {

class Launcher;

/// Subclass SingleDeviceStrategy (or, with issue "DDP", a distributed one) and pass it as an
/// object (`TrainerOptions{.strategy = std::make_shared<MyStrategy>()}`), or register it by name
/// in the StrategyRegistry. What is not given here (accelerator, precision plugin, CheckpointIO)
/// the Trainer fills in from its flags.
class Strategy {
 public:
  explicit Strategy(std::shared_ptr<accelerators::Accelerator> accelerator = nullptr,
                    std::shared_ptr<plugins::CheckpointIO> checkpoint_io = nullptr,
                    std::shared_ptr<plugins::Precision> precision_plugin = nullptr);
  virtual ~Strategy();
  Strategy(const Strategy&) = delete;
  Strategy& operator=(const Strategy&) = delete;

  // --- what it owns -----------------------------------------------------------------------
  /// Null until given or set by the Trainer.
  accelerators::Accelerator* accelerator() const { return accelerator_.get(); }
  void set_accelerator(std::shared_ptr<accelerators::Accelerator> accelerator);
  /// A TorchCheckpointIO unless one was given.
  plugins::CheckpointIO& checkpoint_io();
  void set_checkpoint_io(std::shared_ptr<plugins::CheckpointIO> checkpoint_io);
  bool has_checkpoint_io() const { return checkpoint_io_ != nullptr; }
  /// A "32-true" Precision unless one was given.
  plugins::Precision& precision_plugin();
  void set_precision_plugin(std::shared_ptr<plugins::Precision> precision_plugin);
  bool has_precision_plugin() const { return precision_ != nullptr; }
  /// The module this strategy runs, once `connect`ed (else null).
  LightningModule* lightning_module() const { return module_; }

  // --- a run ------------------------------------------------------------------------------
  /// The Trainer hands over the module at the start of every run.
  virtual void connect(LightningModule& module);
  /// Before the module's `setup` hooks: processes, connections, then the accelerator's device.
  virtual void setup_environment();
  /// After `configure_model`: the accelerator's `setup`, the precision's conversion of the
  /// module, then `model_to_device`.
  virtual void setup(Trainer& trainer);
  /// At the end of every run: the accelerator's and the CheckpointIO's teardown.
  virtual void teardown();
  /// Where the module and batches go.
  virtual torch::Device root_device() const = 0;
  virtual void model_to_device() = 0;
  /// The devices the Trainer's `devices` flag selected (a strategy built with its own keeps them).
  virtual void set_parallel_devices(const std::vector<torch::Device>& devices) = 0;
  /// The name this strategy is registered under ("single_device").
  virtual std::string name() const = 0;
  /// What starts this run's other processes before `fit`/`validate`/`test`/`predict` run (null:
  /// the run is this process alone, or was started by a launcher outside, such as torchrun).
  virtual Launcher* launcher() { return nullptr; }
  /// A run failed with `error` in this process (Lightning's `on_exception`): a distributed
  /// strategy tells the other processes, so that their errors name this one.
  virtual void on_exception(const std::exception_ptr& error) {}

  // --- one batch --------------------------------------------------------------------------
  /// The precision plugin's dtype conversion, then the module's `on_before_batch_transfer`,
  /// `transfer_batch_to_device` (to `root_device()`) and `on_after_batch_transfer` hooks.
  virtual Batch batch_to_device(Batch batch, int64_t dataloader_idx = 0);
  /// The module's steps, each under the precision plugin's autocast context.
  virtual StepOutput training_step(const Batch& batch, int64_t batch_idx);
  virtual StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual torch::IValue predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// The precision plugin's loss scaling, then the module's `backward` hook; returns the loss
  /// backward ran on. `optimizer` is null in manual optimization.
  virtual torch::Tensor backward(const torch::Tensor& loss, torch::optim::Optimizer* optimizer);
  /// Whether `backward` synchronises gradients between processes (Lightning's
  /// `block_backward_sync`): the training loop turns it off for accumulation micro-steps, so
  /// only the step that updates the weights communicates. No effect in one process.
  virtual void set_backward_sync(bool enabled) {}
  /// The precision plugin's update: `closure` (forward and backward), `after_closure` (the
  /// hooks and clipping, on unscaled gradients), `optimizer.step()`.
  virtual torch::Tensor optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure,
                                       const std::function<void()>& after_closure);

  // --- collectives --------------------------------------------------------------------------
  /// `reduce_op`: "mean" or "sum" (and "max"/"min" where the backend has them).
  virtual torch::Tensor reduce(const torch::Tensor& tensor, const std::string& reduce_op = "mean") = 0;
  /// All processes agree: with `all`, true only if every process says so, else if any does.
  virtual bool reduce_boolean_decision(bool decision, bool all = true) = 0;
  virtual void barrier(const std::string& name = "") = 0;
  /// `obj` of process `src`, on every process.
  virtual torch::IValue broadcast(const torch::IValue& obj, int64_t src = 0) = 0;
  /// The tensors of every process, stacked along a new first dimension when there are several.
  virtual torch::Tensor all_gather(const torch::Tensor& tensor, bool sync_grads = false) = 0;

  // --- checkpoints ---------------------------------------------------------------------------
  /// Written by the global-zero process only, through the CheckpointIO.
  virtual void save_checkpoint(const Dict& checkpoint, const std::string& filepath);
  /// Throws CheckpointError when the file does not hold a dictionary.
  virtual Dict load_checkpoint(const std::string& path);
  virtual void remove_checkpoint(const std::string& filepath);

  // --- processes -------------------------------------------------------------------------------
  virtual bool is_global_zero() const { return global_rank() == 0; }
  virtual int64_t world_size() const { return 1; }
  virtual int64_t global_rank() const { return 0; }
  virtual int64_t local_rank() const { return 0; }
  virtual int64_t node_rank() const { return 0; }
  virtual int64_t num_nodes() const { return 1; }

 protected:
  std::shared_ptr<accelerators::Accelerator> accelerator_;
  std::shared_ptr<plugins::CheckpointIO> checkpoint_io_;
  std::shared_ptr<plugins::Precision> precision_;
  LightningModule* module_ = nullptr;
};

}  // namespace strategies
}  // namespace lightning
