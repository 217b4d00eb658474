#include "lightning/utilities/seed.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <vector>

namespace lightning {

uint64_t seed_everything(uint64_t seed, bool) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
  std::srand(static_cast<unsigned>(seed));
  std::cerr << "Seed set to " << seed << std::endl;
  return seed;
}

struct IsolateRng::State {
  at::Tensor cpu;
  std::vector<at::Tensor> cuda;
};

IsolateRng::IsolateRng() : state_(std::make_unique<State>()) {
  auto cpu = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(cpu.mutex());
  state_->cpu = cpu.get_state();
  if (torch::cuda::is_available())
    for (size_t i = 0; i < torch::cuda::device_count(); ++i) {
      const auto& gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      state_->cuda.push_back(gen.get_state());
    }
}

IsolateRng::~IsolateRng() {
  auto cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(state_->cpu);
  }
  for (size_t i = 0; i < state_->cuda.size(); ++i) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    gen.set_state(state_->cuda[i]);
  }
}

}  // namespace lightning
