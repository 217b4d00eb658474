#include "lightning/core/optimizer.h"

#include "lightning/strategies/strategy.h"
#include "lightning/utilities/errors.h"

namespace lightning {

torch::Tensor LightningOptimizer::step(const std::function<torch::Tensor()>& closure) {
  if (!strategy_ || !hooks_)
    throw MisconfigurationException(
        "LightningOptimizer::step was called outside a Trainer's fit; accepted: calls from training_step or "
        "optimizer_step while `Trainer.fit` runs (call `optimizer->step()` to step the LibTorch optimizer yourself)");
  hooks_->on_before_step();
  // Two pointers: std::function keeps them inline, no allocation per step.
  auto* hooks = hooks_;
  auto* optimizer = optimizer_.get();
  auto loss = strategy_->optimizer_step(*optimizer_, closure, [hooks, optimizer] { hooks->after_closure(*optimizer); });
  hooks_->on_after_step();
  return loss;
}

void LightningOptimizer::zero_grad() {
  for (auto& group : optimizer_->param_groups())
    for (auto& p : group.params())
      if (p.mutable_grad().defined()) p.mutable_grad() = torch::Tensor();
}

}  // namespace lightning
