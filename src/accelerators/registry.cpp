#include "lightning/accelerators/registry.h"

#include "lightning/accelerators/cpu.h"
#include "lightning/accelerators/cuda.h"

namespace lightning::accelerators {

AcceleratorRegistry::AcceleratorRegistry()
    : Registry("AcceleratorRegistry", "accelerator", "an Accelerator", {"auto", "gpu"}) {
  add("cpu", [] { return std::make_shared<CPUAccelerator>(); }, "CPUAccelerator");
  add("cuda", [] { return std::make_shared<CUDAAccelerator>(); }, "CUDAAccelerator");
}

AcceleratorRegistry& AcceleratorRegistry::instance() {
  static AcceleratorRegistry registry;
  return registry;
}

}  // namespace lightning::accelerators
