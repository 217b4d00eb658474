#pragma once
/// Automatic optimization: training_step, zero_grad, backward, clipping and the optimizer step,
/// in Lightning's hook order, with gradient accumulation; and the optimizer step of manual
/// optimization.
#include "lightning/core/module.h"
#include "lightning/loops/progress.h"

#include <cstdint>
#include <functional>

namespace lightning {

class Trainer;

class AutomaticOptimization {
 public:
  explicit AutomaticOptimization(Trainer& trainer) : trainer_(trainer) {}
  /// Runs one batch. `accumulate`: only forward/backward (no optimizer step) for this batch.
  /// Returns the step output (its loss is the unscaled training_step loss).
  StepOutput run(const Batch& batch, int64_t batch_idx, bool accumulate);
  /// `LightningOptimizer::step`: the precision plugin's step with the hooks (and, in automatic
  /// optimization, gradient norms and clipping) between `closure` and the update.
  torch::Tensor optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure);
  /// Optimizer steps taken, automatic or manual (Lightning's `global_step`).
  int64_t optimizer_steps() const { return step_progress.total.completed + manual_step_progress.total.completed; }
  /// Lightning's `optim_progress` of automatic optimization: optimizer steps and zero_grad calls
  /// (`current`: this epoch's).
  Progress step_progress{TrackedEvents::ReadyCompleted};
  Progress zero_grad_progress{TrackedEvents::Started};
  /// Lightning's `manual_optimization.optim_step_progress`: `optimizer.step()` calls in manual optimization.
  Progress manual_step_progress{TrackedEvents::ReadyCompleted};

 private:
  torch::Tensor closure(const Batch& batch, int64_t batch_idx, StepOutput& output, bool zero_grad);
  void after_closure(torch::optim::Optimizer& optimizer);
  Trainer& trainer_;
};

}  // namespace lightning
