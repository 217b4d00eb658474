#pragma once
// What PyTorch keeps in `param_groups[i]` beyond the learning rate, for the optimizers whose
// options LibTorch exposes: momentum (beta1 for Adam-style optimizers) and weight decay.
#include <torch/optim/optimizer.h>

#include <optional>

namespace lightning::detail {

/// `momentum` of SGD/RMSprop, `betas[0]` of Adam/AdamW; nullopt for others.
std::optional<double> momentum_of(const torch::optim::OptimizerOptions& options);
/// Sets what `momentum_of` reads; false when the optimizer has no momentum.
bool set_momentum(torch::optim::OptimizerOptions& options, double momentum);
/// Whether the momentum is `betas[0]` (PyTorch's `'betas' in optimizer.defaults`).
bool uses_betas(const torch::optim::OptimizerOptions& options);
std::optional<double> weight_decay_of(const torch::optim::OptimizerOptions& options);

}  // namespace lightning::detail
