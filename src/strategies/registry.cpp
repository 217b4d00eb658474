#include "lightning/strategies/registry.h"

#include "lightning/strategies/ddp.h"
#include "lightning/strategies/single_device.h"

namespace lightning::strategies {

StrategyRegistry::StrategyRegistry() : Registry("StrategyRegistry", "strategy", "a Strategy", {"auto"}) {
  add("single_device", [] { return std::make_shared<SingleDeviceStrategy>(); }, "SingleDeviceStrategy");
  add("ddp", [] { return std::make_shared<DDPStrategy>(); }, "DDPStrategy");
  add("ddp_spawn", [] { return std::make_shared<DDPStrategy>(DDPStrategy::Options{.start_method = "spawn"}); },
      "DDPStrategy (start_method='spawn')");
  // Lightning's names for DistributedDataParallel's find_unused_parameters.
  for (bool find_unused : {false, true})
    add(find_unused ? "ddp_find_unused_parameters_true" : "ddp_find_unused_parameters_false",
        [find_unused] { return std::make_shared<DDPStrategy>(DDPStrategy::Options{.find_unused_parameters = find_unused}); },
        "DDPStrategy");
}

StrategyRegistry& StrategyRegistry::instance() {
  static StrategyRegistry registry;
  return registry;
}

}  // namespace lightning::strategies
