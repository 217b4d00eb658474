#pragma once
/// AcceleratorRegistry: the names the `accelerator` flag accepts and what each builds (Lightning's
/// `AcceleratorRegistry`): "cpu" and "cuda"; "gpu" (CUDA here) and "auto" are the Trainer's
/// choices. Register your own to select it by name:
///
///     lightning::accelerators::AcceleratorRegistry::instance().register_accelerator(
///         "my_cpu", [] { return std::make_shared<MyAccelerator>(); }, "CPU with pinned threads");
///     lightning::Trainer trainer({.accelerator = "my_cpu"});
#include "lightning/accelerators/accelerator.h"
#include "lightning/utilities/registry.h"

namespace lightning::accelerators {

class AcceleratorRegistry : public detail::Registry<Accelerator> {
 public:
  /// The process-wide registry, with the built-in accelerators.
  static AcceleratorRegistry& instance();
  void register_accelerator(const std::string& name, Factory factory, const std::string& description = "",
                            bool override = false) {
    add(name, std::move(factory), description, override);
  }
  std::vector<std::string> available_accelerators() const { return names(); }

 private:
  AcceleratorRegistry();
};

}  // namespace lightning::accelerators
