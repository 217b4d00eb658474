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

/// Also what every `LightningOptimizer::step` of a fit runs around and inside the strategy's
/// step: the step counters of manual optimization, and (after the closure's backward) the
/// `on_before_optimizer_step` hooks and, in automatic optimization, gradient norms and clipping.
class AutomaticOptimization : public OptimizerStepHooks {
 public:
  explicit AutomaticOptimization(Trainer& trainer) : trainer_(trainer) {}
  /// Runs one batch. `accumulate`: only forward/backward (no optimizer step) for this batch.
  /// Returns the step output (its loss is the unscaled training_step loss).
  StepOutput run(const Batch& batch, int64_t batch_idx, bool accumulate);
  void on_before_step() override;
  void after_closure(torch::optim::Optimizer& optimizer) override;
  void on_after_step() override;
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
  bool manual() const;
  Trainer& trainer_;
};

}  // namespace lightning
