#pragma once
/// StrategyRegistry: the names the `strategy` flag accepts (Lightning's `StrategyRegistry`):
/// "single_device", "ddp", "ddp_spawn", "ddp_find_unused_parameters_false" and
/// "ddp_find_unused_parameters_true"; "auto" is the Trainer's choice (DDP for several devices or
/// nodes, else one device). Register your own strategy to select it by name.
#include "lightning/strategies/strategy.h"
#include "lightning/utilities/registry.h"

namespace lightning::strategies {

class StrategyRegistry : public detail::Registry<Strategy> {
 public:
  /// The process-wide registry, with the built-in strategies.
  static StrategyRegistry& instance();
  void register_strategy(const std::string& name, Factory factory, const std::string& description = "",
                         bool override = false) {
    add(name, std::move(factory), description, override);
  }
  std::vector<std::string> available_strategies() const { return names(); }

 private:
  StrategyRegistry();
};

}  // namespace lightning::strategies
