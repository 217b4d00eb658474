#include "lightning/core/optimizer.h"

#include "lightning/core/module.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/trainer/trainer.h"

namespace lightning {

torch::Tensor LightningOptimizer::step(const std::function<torch::Tensor()>& closure) {
  // LibTorch's optimizers call an empty std::function as "no closure".
  return module_->trainer().fit_loop().epoch_loop.optimization.optimizer_step(*optimizer_, closure);
}

void LightningOptimizer::zero_grad() {
  for (auto& group : optimizer_->param_groups())
    for (auto& p : group.params())
      if (p.mutable_grad().defined()) p.mutable_grad() = torch::Tensor();
}

}  // namespace lightning
