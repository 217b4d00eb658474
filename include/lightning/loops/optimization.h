#pragma once
/// Automatic optimization: training_step, zero_grad, backward, clipping and the optimizer step,
/// in Lightning's hook order, with gradient accumulation.
#include "lightning/core/module.h"

#include <cstdint>

namespace lightning {

class Trainer;

class AutomaticOptimization {
 public:
  explicit AutomaticOptimization(Trainer& trainer) : trainer_(trainer) {}
  /// Runs one batch. `accumulate`: only forward/backward (no optimizer step) for this batch.
  /// Returns the step output (its loss is the unscaled training_step loss).
  StepOutput run(const Batch& batch, int64_t batch_idx, bool accumulate);
  /// Optimizer steps taken (Lightning's `global_step`).
  int64_t optimizer_steps = 0;

 private:
  torch::Tensor closure(const Batch& batch, int64_t batch_idx, StepOutput& output, bool zero_grad);
  void after_closure(torch::optim::Optimizer& optimizer);
  Trainer& trainer_;
};

}  // namespace lightning
