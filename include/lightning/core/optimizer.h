#pragma once
/// LightningOptimizer: what `LightningModule::optimizers()` holds — a LibTorch optimizer whose
/// `step` goes through the Trainer's strategy (hooks, precision plugin, `global_step`), as
/// Lightning's does.
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>

namespace lightning {

class LightningModule;
namespace strategies {
class Strategy;
}  // namespace strategies

/// What the fit loop runs around every `LightningOptimizer::step` (Lightning's `_on_before_step`
/// and `_on_after_step`: the step counters), and between the closure and the update (the
/// `on_before_optimizer_step` hooks and gradient clipping).
class OptimizerStepHooks {
 public:
  virtual ~OptimizerStepHooks() = default;
  virtual void on_before_step() {}
  virtual void after_closure(torch::optim::Optimizer& optimizer) {}
  virtual void on_after_step() {}
};

/// Behaves like the `std::shared_ptr` to the optimizer (`->`, `*`, `get()`, conversion), plus:
///
///     auto& opt = optimizers()[0];   // in training_step, with automatic_optimization = false
///     opt.zero_grad();
///     manual_backward(loss);
///     opt.step();                    // counts in global_step; `opt->step()` would bypass the Trainer
class LightningOptimizer {
 public:
  LightningOptimizer(std::shared_ptr<torch::optim::Optimizer> optimizer, LightningModule* module)
      : optimizer_(std::move(optimizer)), module_(module) {}
  torch::optim::Optimizer& operator*() const { return *optimizer_; }
  torch::optim::Optimizer* operator->() const { return optimizer_.get(); }
  torch::optim::Optimizer* get() const { return optimizer_.get(); }
  const std::shared_ptr<torch::optim::Optimizer>& optimizer() const { return optimizer_; }
  operator const std::shared_ptr<torch::optim::Optimizer>&() const { return optimizer_; }
  /// Runs `closure` if given (it computes the loss and calls backward; LBFGS calls it several
  /// times), the `on_before_optimizer_step` hooks and the update, through the strategy and its
  /// precision plugin (16-mixed unscales, skips steps with inf/nan gradients and updates its
  /// scale). In manual optimization each call is one `global_step`. Throws
  /// MisconfigurationException outside a Trainer's fit.
  torch::Tensor step(const std::function<torch::Tensor()>& closure = nullptr);
  /// Sets the gradients of this optimizer's parameters to none.
  void zero_grad();
  /// The Trainer connects each optimizer of a fit to its strategy and to the fit loop's hooks.
  void connect(strategies::Strategy* strategy, OptimizerStepHooks* hooks) {
    strategy_ = strategy;
    hooks_ = hooks;
  }

 private:
  std::shared_ptr<torch::optim::Optimizer> optimizer_;
  LightningModule* module_;
  strategies::Strategy* strategy_ = nullptr;
  OptimizerStepHooks* hooks_ = nullptr;
};

}  // namespace lightning
