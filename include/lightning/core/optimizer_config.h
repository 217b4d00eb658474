#pragma once
/// What `LightningModule::configure_optimizers` returns.
#include <torch/optim/optimizer.h>

#include <memory>
#include <type_traits>
#include <vector>

namespace lightning {

/// One optimizer (LR schedulers and several optimizers come with the optimization work).
/// Converts from any `std::shared_ptr<Optimizer subclass>`, so
/// `return std::make_shared<torch::optim::Adam>(parameters(), 1e-3);` works.
struct OptimizerConfig {
  OptimizerConfig() = default;
  template <typename Opt, typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Opt>>>
  OptimizerConfig(std::shared_ptr<Opt> optimizer) : optimizers{std::move(optimizer)} {}
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers;
};

}  // namespace lightning
