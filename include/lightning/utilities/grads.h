#pragma once
/// Gradient norms for logging (Lightning's `lightning.pytorch.utilities.grad_norm`).
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

namespace lightning {

/// The `norm_type`-norm of each parameter's gradient, keyed `grad_{p}_norm{sep}{name}`, and of
/// all of them together, `grad_{p}_norm_total`, with p printed as Python prints a float
/// (`grad_2.0_norm/layer.weight`, `grad_inf_norm_total`). Parameters without a gradient are
/// left out; no gradient at all gives an empty map. The values stay tensors (no sync):
///
///     void on_before_optimizer_step(torch::optim::Optimizer&) override {
///       for (auto& [k, v] : lightning::grad_norm(*this, 2)) log(k, v);
///     }
///
/// Throws MisconfigurationException unless `norm_type` is > 0 (infinity included).
std::map<std::string, torch::Tensor> grad_norm(const torch::nn::Module& module, double norm_type,
                                               const std::string& group_separator = "/");

}  // namespace lightning
