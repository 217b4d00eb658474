#include "lightning/core/optimizer_config.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <algorithm>

namespace lightning::detail {

void validate_optimizer_config(const OptimizerConfig& config, bool automatic_optimization) {
  const auto& optimizers = config.optimizers;
  if (optimizers.empty())
    throw MisconfigurationException(fmt::format(
        "configure_optimizers returned no optimizer{}; accepted: one optimizer (e.g. "
        "std::make_shared<torch::optim::SGD>(parameters(), 0.1)), optionally with LR schedulers of it",
        config.lr_schedulers.empty() ? "" : fmt::format(" but {} LR scheduler(s)", config.lr_schedulers.size())));
  for (size_t i = 0; i < optimizers.size(); ++i)
    if (!optimizers[i])
      throw MisconfigurationException(
          fmt::format("configure_optimizers returned a null optimizer at index {}; accepted: non-null optimizers", i));
  if (automatic_optimization && optimizers.size() > 1)
    throw MisconfigurationException(fmt::format(
        "configure_optimizers returned {} optimizers: training with multiple optimizers is only supported with "
        "manual optimization; accepted: one optimizer, or `automatic_optimization = false` and stepping each "
        "optimizer from training_step (`auto opts = optimizers();`)",
        optimizers.size()));
  for (size_t i = 0; i < config.lr_schedulers.size(); ++i) {
    const auto& c = config.lr_schedulers[i];
    if (!c.scheduler)
      throw MisconfigurationException(fmt::format(
          "configure_optimizers: lr_schedulers[{}] has no scheduler; accepted: a config whose `scheduler` is set", i));
    if (std::find(optimizers.begin(), optimizers.end(), c.scheduler->optimizer()) == optimizers.end())
      throw MisconfigurationException(fmt::format(
          "configure_optimizers: lr_schedulers[{}] ({}) is attached to an optimizer that wasn't returned from "
          "`configure_optimizers`; accepted: schedulers of the returned optimizers",
          i, c.scheduler->name()));
    if (c.interval != "step" && c.interval != "epoch")
      throw MisconfigurationException(fmt::format(
          "The \"interval\" key in lr scheduler dict must be \"step\" or \"epoch\" but is \"{}\" (lr_schedulers[{}])",
          c.interval, i));
    if (c.frequency < 1)
      throw MisconfigurationException(fmt::format(
          "configure_optimizers: lr_schedulers[{}] has frequency={}; accepted: an int >= 1", i, c.frequency));
    if (automatic_optimization && c.scheduler->reduce_on_plateau() && !c.monitor)
      throw MisconfigurationException(
          "`configure_optimizers` must include a monitor when a `ReduceLROnPlateau` scheduler is used; accepted: "
          "{.scheduler = scheduler, .monitor = \"your_loss\"}");
  }
}

}  // namespace lightning::detail
