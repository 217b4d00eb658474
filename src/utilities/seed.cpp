#include "lightning/utilities/seed.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <iostream>
#include <memory>
#include <optional>
#include <mutex>
#include <vector>

namespace lightning {

namespace {
std::atomic<bool> seeded{false};
std::atomic<uint64_t> global_seed{0};
std::atomic<bool> seed_workers{false};
thread_local std::optional<WorkerInfo> current_worker;
thread_local std::optional<at::Generator> current_generator;

/// splitmix64's finaliser: nearby inputs give unrelated seeds.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t seed_everything(uint64_t seed, bool workers) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
  std::srand(static_cast<unsigned>(seed));
  global_seed = seed;
  seed_workers = workers;
  seeded = true;
  ::setenv("PL_GLOBAL_SEED", std::to_string(seed).c_str(), 1);
  ::setenv("PL_SEED_WORKERS", workers ? "1" : "0", 1);
  std::cerr << "Seed set to " << seed << std::endl;
  return seed;
}

uint64_t detail::worker_base_seed() {
  return seeded ? global_seed.load() : at::detail::getDefaultCPUGenerator().current_seed();
}

namespace {
// Lightning's `_generate_seed_sequence`: Knuth's LCG constant, modulo 2^64.
uint64_t seed_sequence(uint64_t base, int64_t worker_id, int64_t rank) {
  const uint64_t combined = (base << 32) | (static_cast<uint64_t>(worker_id) << 16) | static_cast<uint64_t>(rank);
  return combined * 6364136223846793005ULL + 1;
}
}  // namespace

uint64_t worker_seed(int64_t worker_id, int64_t rank) {
  return seed_sequence(detail::worker_base_seed(), worker_id, rank);
}

std::optional<WorkerInfo> get_worker_info() { return current_worker; }

void detail::set_worker_info(int64_t id, int64_t num_workers, uint64_t base_seed) {
  const uint64_t seed = seed_workers ? seed_sequence(base_seed, id, 0) : base_seed + static_cast<uint64_t>(id);
  current_worker = WorkerInfo{id, num_workers, seed};
  current_generator = at::make_generator<at::CPUGeneratorImpl>(current_worker->seed);
}

void detail::seed_worker_batch(uint64_t epoch, uint64_t batch) {
  if (!current_worker) return;
  auto& gen = *current_generator;
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(mix(current_worker->seed ^ mix(epoch ^ mix(batch))));
}

at::Generator worker_generator() {
  return current_generator ? *current_generator : at::detail::getDefaultCPUGenerator();
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
