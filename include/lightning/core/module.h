#pragma once
/// LightningModule: a torch::nn::Module that knows how to train, validate, test and predict.
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/core/batch.h"
#include "lightning/core/hyperparameters.h"
#include "lightning/core/optimizer.h"
#include "lightning/core/optimizer_config.h"
#include "lightning/data/dataloader.h"

#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <fmt/format.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace lightning {

class Trainer;
class Callback;

/// What a `*_step` returns: a loss (training) and/or named tensors. A default-constructed
/// StepOutput is "nothing"; from `training_step` it skips the optimizer step, as returning
/// `None` does in Lightning.
struct StepOutput {
  StepOutput() = default;
  StepOutput(torch::Tensor loss) : loss(std::move(loss)) {}
  /// Named outputs; a "loss" entry becomes `loss`.
  StepOutput(std::initializer_list<std::pair<std::string, torch::Tensor>> items);
  bool empty() const { return !loss.defined() && extras.empty(); }
  torch::Tensor loss;
  std::map<std::string, torch::Tensor> extras;
};

/// Options of `LightningModule::log`, with Lightning's names and defaults. `on_step` and
/// `on_epoch` default per hook: training step hooks log per step, everything else per epoch.
struct LogOptions {
  bool prog_bar = false;
  bool logger = true;
  std::optional<bool> on_step;
  std::optional<bool> on_epoch;
  /// "mean" (weighted by batch size), "max", "min" or "sum": how step values become the epoch value.
  std::string reduce_fx = "mean";
  bool enable_graph = false;
  bool sync_dist = false;
  /// Appends "/dataloader_idx_N" to the key when there are several evaluation dataloaders.
  bool add_dataloader_idx = true;
  /// Batch size used to weight the epoch mean; by default the current batch's size.
  std::optional<int64_t> batch_size;
  bool rank_zero_only = false;
};

/// A value passed to `log`: a scalar tensor or a number.
struct LogValue {
  LogValue(torch::Tensor t) : tensor(std::move(t)) {}
  LogValue(double v) : number(v) {}
  LogValue(float v) : number(v) {}
  LogValue(int v) : number(v) {}
  LogValue(int64_t v) : number(static_cast<double>(v)) {}
  torch::Tensor tensor;
  double number = 0;
};

/// Options of `LightningModule::load_from_checkpoint`.
struct LoadCheckpointOptions {
  /// Every parameter and buffer must match the checkpoint's `state_dict` keys and shapes.
  bool strict = true;
  /// Where the module's weights go (default: the CPU, where checkpoints load).
  std::optional<torch::Device> map_location;
};

namespace detail {
/// Thrown by the default `*_step` implementations so the loops can tell "not overridden".
struct StepNotOverridden {
  const char* hook;
};
}  // namespace detail

/// Subclass it, override the steps you need and `configure_optimizers`:
///
///     struct Model : lightning::LightningModule {
///       torch::nn::Linear layer{nullptr};
///       Model() { layer = register_module("layer", torch::nn::Linear(32, 2)); }
///       lightning::StepOutput training_step(const lightning::Batch& b, int64_t) override {
///         auto loss = layer(b[0]).sum();
///         log("train_loss", loss);
///         return loss;
///       }
///       lightning::OptimizerConfig configure_optimizers() override {
///         return std::make_shared<torch::optim::SGD>(parameters(), 0.1);
///       }
///     };
class LightningModule : public torch::nn::Module {
 public:
  LightningModule() = default;
  explicit LightningModule(const std::string& name) : torch::nn::Module(name) {}
  ~LightningModule() override = default;

  // --- steps --------------------------------------------------------------------------
  /// Default: one tensor in, one tensor out; override to use ModelSummary's in/out sizes.
  virtual torch::Tensor forward(const torch::Tensor& input);
  virtual StepOutput training_step(const Batch& batch, int64_t batch_idx);
  virtual StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// Default: `forward(batch[0])`.
  virtual torch::IValue predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// Required for `fit`; the default throws MisconfigurationException.
  virtual OptimizerConfig configure_optimizers();
  virtual std::vector<std::shared_ptr<Callback>> configure_callbacks() { return {}; }

  // --- optimization hooks ---------------------------------------------------------------
  virtual void backward(const torch::Tensor& loss) { loss.backward(); }
  /// Default: `optimizer.step(closure)`; the closure runs training_step, zero_grad and backward,
  /// and the step runs on_before_optimizer_step and clipping before the update.
  virtual void optimizer_step(int64_t epoch, int64_t batch_idx, LightningOptimizer& optimizer,
                              const std::function<torch::Tensor()>& closure);
  /// Default: sets gradients to none (as `zero_grad(set_to_none=True)`).
  virtual void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer);
  /// Default: `clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)`; the
  /// Trainer passes its `gradient_clip_val` / `gradient_clip_algorithm` flags.
  virtual void configure_gradient_clipping(torch::optim::Optimizer& optimizer,
                                           std::optional<double> gradient_clip_val,
                                           std::optional<std::string> gradient_clip_algorithm);
  /// Clips the gradients of `optimizer`'s parameters: by total 2-norm ("norm", the default) or
  /// elementwise ("value"). A value of 0 or unset does nothing.
  void clip_gradients(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
                      std::optional<std::string> gradient_clip_algorithm = std::nullopt);
  /// Runs backward with the on_before_backward/on_after_backward hooks and the precision
  /// plugin's loss scaling (manual optimization).
  void manual_backward(const torch::Tensor& loss);
  /// Sets `requires_grad = false` on the parameters of every other optimizer, so that only
  /// `optimizer`'s parameters get gradients (e.g. the generator step of a GAN).
  void toggle_optimizer(const LightningOptimizer& optimizer);
  /// Restores the `requires_grad` flags `toggle_optimizer` changed.
  void untoggle_optimizer(const LightningOptimizer& optimizer);
  virtual void on_before_backward(const torch::Tensor& loss) {}
  virtual void on_after_backward() {}
  virtual void on_before_optimizer_step(torch::optim::Optimizer& optimizer) {}
  virtual void on_before_zero_grad(torch::optim::Optimizer& optimizer) {}
  /// Default: `scheduler.step()`, or `scheduler.step(*metric)` for ReduceLROnPlateau (the
  /// value of its config's `monitor`). Called by the Trainer in automatic optimization.
  virtual void lr_scheduler_step(optim::LRScheduler& scheduler, std::optional<double> metric);

  // --- model hooks (no-ops) -------------------------------------------------------------
  virtual void setup(const std::string& stage) {}
  virtual void teardown(const std::string& stage) {}
  virtual void prepare_data() {}
  virtual void configure_model() {}
  virtual void on_fit_start() {}
  virtual void on_fit_end() {}
  virtual void on_train_start() {}
  virtual void on_train_end() {}
  virtual void on_validation_start() {}
  virtual void on_validation_end() {}
  virtual void on_test_start() {}
  virtual void on_test_end() {}
  virtual void on_predict_start() {}
  virtual void on_predict_end() {}
  /// Return -1 to skip the rest of the current epoch.
  virtual int on_train_batch_start(const Batch& batch, int64_t batch_idx) { return 0; }
  virtual void on_train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx) {}
  virtual void on_validation_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_validation_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                       int64_t dataloader_idx) {}
  virtual void on_test_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_test_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) {}
  virtual void on_predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {}
  virtual void on_predict_batch_end(const torch::IValue& outputs, const Batch& batch, int64_t batch_idx,
                                    int64_t dataloader_idx) {}
  virtual void on_train_epoch_start() {}
  virtual void on_train_epoch_end() {}
  virtual void on_validation_epoch_start() {}
  virtual void on_validation_epoch_end() {}
  virtual void on_test_epoch_start() {}
  virtual void on_test_epoch_end() {}
  virtual void on_predict_epoch_start() {}
  virtual void on_predict_epoch_end() {}
  /// Default: `zero_grad` of the module's parameters (set to none) before validation in `fit`.
  virtual void on_validation_model_zero_grad();
  virtual void on_validation_model_eval() { eval(); }
  /// Called after every validation run (`validate()` and sanity check included). Not
  /// overridden, each submodule gets back the train/eval mode it had before (Lightning's default).
  virtual void on_validation_model_train();
  virtual void on_test_model_eval() { eval(); }
  /// Called after every test run; the default is as `on_validation_model_train`'s.
  virtual void on_test_model_train();
  virtual void on_predict_model_eval() { eval(); }

  // --- data hooks -------------------------------------------------------------------------
  /// Used when neither dataloaders nor a datamodule are passed to the Trainer; empty = none.
  virtual DataLoaders train_dataloader() { return {}; }
  virtual DataLoaders val_dataloader() { return {}; }
  virtual DataLoaders test_dataloader() { return {}; }
  virtual DataLoaders predict_dataloader() { return {}; }
  virtual Batch on_before_batch_transfer(Batch batch, int64_t dataloader_idx) { return batch; }
  virtual Batch transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t dataloader_idx);
  virtual Batch on_after_batch_transfer(Batch batch, int64_t dataloader_idx) { return batch; }

  // --- checkpoints -------------------------------------------------------------------------
  /// Add to or read the checkpoint being saved (called last, after the callbacks').
  virtual void on_save_checkpoint(Dict& checkpoint) {}
  /// Called with a checkpoint being restored, before its weights are loaded.
  virtual void on_load_checkpoint(const Dict& checkpoint) {}
  /// Parameters and buffers by their `named_parameters()`/`named_buffers()` names.
  Dict state_dict() const { return module_state_dict(*this); }
  /// Loads parameters and buffers; with `strict`, missing/unexpected keys and shape
  /// mismatches are reported together in one MisconfigurationException.
  void load_state_dict(const Dict& state, bool strict = true) { load_module_state_dict(*this, state, strict); }
  /// Lightning's `load_from_checkpoint`: constructs `M(args...)` — or `M(hparams)` from the
  /// checkpoint's `hyper_parameters` when M takes a `const Hyperparameters&` and no arguments
  /// are given — then loads the weights of `path`: a Lightning `.ckpt` (ours or Python's) or a
  /// file holding a plain state dict (`torch.save(model.state_dict(), path)`).
  ///
  ///     auto model = LitClassifier::load_from_checkpoint<LitClassifier>("best.ckpt", {}, 1e-3);
  template <typename M, typename... Args>
  static std::shared_ptr<M> load_from_checkpoint(const std::string& path, const LoadCheckpointOptions& options = {},
                                                 Args&&... args) {
    Dict checkpoint = read_checkpoint(path);
    std::shared_ptr<M> model;
    if constexpr (sizeof...(Args) == 0 && std::is_constructible_v<M, const Hyperparameters&>)
      model = std::make_shared<M>(hyperparameters_of(checkpoint));
    else
      model = std::make_shared<M>(std::forward<Args>(args)...);
    model->restore_from_checkpoint(checkpoint, path, options);
    return model;
  }

  // --- logging ----------------------------------------------------------------------------
  /// Records a metric, as Lightning's `self.log`. Throws MisconfigurationException when called
  /// from a hook that does not allow logging, or with a non-scalar tensor.
  void log(const std::string& name, const LogValue& value, const LogOptions& options = {});
  void log_dict(const std::map<std::string, LogValue>& values, const LogOptions& options = {});

  // --- state ------------------------------------------------------------------------------
  /// The Trainer running this module; throws when the module is not attached to one.
  Trainer& trainer() const;
  bool has_trainer() const { return trainer_ != nullptr; }
  int64_t current_epoch() const;
  int64_t global_step() const;
  /// Where the module's parameters are: updated by `to(device)` (the strategy moves the module
  /// there at the start of a run), as Lightning's `self.device`.
  torch::Device device() const { return device_; }
  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;
  /// Stores hyperparameters (shown by loggers, saved in checkpoints).
  void save_hyperparameters(const Hyperparameters& hparams);
  const Hyperparameters& hparams() const { return hparams_; }
  /// Set to false to step optimizers yourself in `training_step` (manual optimization).
  bool automatic_optimization = true;
  /// An example input; lets ModelSummary show input/output sizes.
  torch::Tensor example_input_array;
  /// The optimizers from configure_optimizers, once the Trainer set them up.
  const std::vector<LightningOptimizer>& optimizers() const { return optimizers_; }
  std::vector<LightningOptimizer>& optimizers() { return optimizers_; }
  /// The LR schedulers from configure_optimizers, in config order (step them yourself in
  /// manual optimization).
  std::vector<std::shared_ptr<optim::LRScheduler>> lr_schedulers() const;

  /// Lightning's `self.all_gather`: `data` of every process, stacked along a new first dimension
  /// (as it is in one process); with `sync_grads`, gradients flow back to each process's slice.
  torch::Tensor all_gather(const torch::Tensor& data, bool sync_grads = false);
  /// The strategy's `barrier` and `broadcast` (Lightning has them on `trainer.strategy` only; here
  /// also on the module, for symmetry with all_gather).
  void barrier(const std::string& name = "");
  torch::IValue broadcast(const torch::IValue& obj, int64_t src = 0);

  /// Prints a line on the global-zero process only (Lightning's `self.print`).
  template <typename... Args>
  void print(fmt::format_string<Args...> format, Args&&... args) const {
    if (is_global_zero()) std::cout << fmt::format(format, std::forward<Args>(args)...) << std::endl;
  }

 private:
  friend class Trainer;
  bool is_global_zero() const;
  /// Loads a checkpoint file for `load_from_checkpoint` (CheckpointError names the path).
  static Dict read_checkpoint(const std::string& path);
  static Hyperparameters hyperparameters_of(const Dict& checkpoint);
  /// on_load_checkpoint, the weights, the hyperparameters; then moves to `map_location`.
  void restore_from_checkpoint(const Dict& checkpoint, const std::string& path, const LoadCheckpointOptions& options);
  Trainer* trainer_ = nullptr;
  torch::Device device_{torch::kCPU};
  Hyperparameters hparams_;
  std::vector<LightningOptimizer> optimizers_;
  std::vector<LRSchedulerConfig> lr_scheduler_configs_;
  std::vector<std::pair<torch::Tensor, bool>> param_requires_grad_state_;  // set by toggle_optimizer
};

}  // namespace lightning
