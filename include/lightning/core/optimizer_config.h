#pragma once
/// What `LightningModule::configure_optimizers` returns: Lightning's forms, in C++.
///
///     return std::make_shared<torch::optim::SGD>(parameters(), 0.1);            // one optimizer
///     return {opt, std::make_shared<optim::StepLR>(opt, 10)};                    // + a scheduler (per epoch)
///     return {opt, {.scheduler = sched, .interval = "step", .frequency = 2}};    // + a scheduler config
///     return {{gen_opt, disc_opt}, {{gen_sched}, {disc_sched}}};                 // lists (manual optimization)
#include "lightning/optim/lr_scheduler.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace lightning {

/// Lightning's LR scheduler dictionary (`LRSchedulerConfig`), with its defaults.
struct LRSchedulerConfig {
  std::shared_ptr<optim::LRScheduler> scheduler;
  /// "epoch" (step after each training epoch) or "step" (after each optimizer step).
  std::string interval = "epoch";
  /// Step every `frequency` epochs or batches.
  int64_t frequency = 1;
  /// The logged metric ReduceLROnPlateau is stepped with (required for it).
  std::optional<std::string> monitor;
  /// With a monitor that was not logged: true raises, false skips the step with a warning.
  bool strict = true;
  /// The LearningRateMonitor's key (default "lr-<Optimizer class>").
  std::optional<std::string> name;
};

/// One optimizer, an optimizer and a scheduler, or lists of both. Converts from any
/// `std::shared_ptr<Optimizer subclass>`, so `return std::make_shared<torch::optim::Adam>(...)` works.
struct OptimizerConfig {
  OptimizerConfig() = default;
  template <typename Opt, typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Opt>>>
  OptimizerConfig(std::shared_ptr<Opt> optimizer) : optimizers{std::move(optimizer)} {}
  template <typename Opt, typename Sched,
            typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Opt> &&
                                        std::is_base_of_v<optim::LRScheduler, Sched>>>
  OptimizerConfig(std::shared_ptr<Opt> optimizer, std::shared_ptr<Sched> scheduler)
      : optimizers{std::move(optimizer)}, lr_schedulers{{std::move(scheduler)}} {}
  template <typename Opt, typename = std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, Opt>>>
  OptimizerConfig(std::shared_ptr<Opt> optimizer, LRSchedulerConfig scheduler)
      : optimizers{std::move(optimizer)}, lr_schedulers{std::move(scheduler)} {}
  OptimizerConfig(std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers,
                  std::vector<LRSchedulerConfig> lr_schedulers = {})
      : optimizers(std::move(optimizers)), lr_schedulers(std::move(lr_schedulers)) {}
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers;
  std::vector<LRSchedulerConfig> lr_schedulers;
};

namespace detail {
/// Lightning's `_configure_optimizers` checks, for `configure_optimizers`' result: at least one
/// optimizer, schedulers attached to returned optimizers, a valid interval and frequency, a
/// monitor for ReduceLROnPlateau. Throws MisconfigurationException.
void validate_optimizer_config(const OptimizerConfig& config, bool automatic_optimization);
}  // namespace detail

}  // namespace lightning
