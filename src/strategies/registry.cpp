#include "lightning/strategies/registry.h"

#include "lightning/strategies/single_device.h"

namespace lightning::strategies {

StrategyRegistry::StrategyRegistry() : Registry("StrategyRegistry", "strategy", "a Strategy", {"auto"}) {
  add("single_device", [] { return std::make_shared<SingleDeviceStrategy>(); }, "SingleDeviceStrategy");
}

StrategyRegistry& StrategyRegistry::instance() {
  static StrategyRegistry registry;
  return registry;
}

}  // namespace lightning::strategies
