#pragma once
/// Seeding for reproducible runs.
#include <ATen/core/Generator.h>

#include <cstdint>
#include <memory>
#include <optional>

namespace lightning {

/// Seeds LibTorch's CPU (and CUDA) generators and the C library's `rand`, and sets Lightning's
/// `PL_GLOBAL_SEED` / `PL_SEED_WORKERS` environment variables; returns the seed. DataLoaders
/// constructed afterwards draw their shuffle seeds from it, so their order is reproducible
/// too. With `workers`, each DataLoader worker thread gets `worker_seed(id, rank)` in its
/// `get_worker_info()` (without, `seed + id`, as PyTorch's workers).
uint64_t seed_everything(uint64_t seed, bool workers = false);

/// Lightning's `pl_worker_init_function` seed for worker `worker_id` on rank `rank`: the first
/// value of a 64-bit LCG started from (base << 32 | worker_id << 16 | rank), where base is the
/// `seed_everything` seed (else LibTorch's initial seed). Distinct per worker and rank, and the
/// same in every run with the same seed.
uint64_t worker_seed(int64_t worker_id, int64_t rank = 0);

/// What a DataLoader worker thread knows about itself (PyTorch's `get_worker_info()`).
struct WorkerInfo {
  int64_t id;
  int64_t num_workers;
  /// A seed for the worker's own generator, e.g. `at::make_generator<at::CPUGeneratorImpl>(info->seed)`
  /// (worker threads share LibTorch's default generator).
  uint64_t seed;
};
/// The calling DataLoader worker thread's info; nullopt on other threads.
std::optional<WorkerInfo> get_worker_info();

/// The calling DataLoader worker thread's own CPU generator, for random augmentation in
/// `Dataset::get`: before each batch it is seeded from the worker's `WorkerInfo::seed`, the
/// loader's epoch and the batch number, so augmentation is the same in every run with the same
/// seeds (a resumed run included) and differs between workers, batches and epochs. Worker
/// threads share LibTorch's default generator, so pass this one explicitly:
///
///     auto flip = torch::rand({}, lightning::worker_generator()).item<float>() < 0.5f;
///
/// On other threads (num_workers=0): LibTorch's default CPU generator.
at::Generator worker_generator();

namespace detail {
/// The seed workers start from: the global seed, else the default CPU generator's. Read on the
/// thread that starts the workers, which hands it to each (the generator is LibTorch's lazily made
/// global, which worker threads should not be the first to touch).
uint64_t worker_base_seed();
/// Called by DataLoader worker threads when they start, with `worker_base_seed()` from their parent.
void set_worker_info(int64_t id, int64_t num_workers, uint64_t base_seed);
/// Called by a worker thread before it fetches batch `batch` of epoch `epoch`.
void seed_worker_batch(uint64_t epoch, uint64_t batch);
}  // namespace detail

/// Saves LibTorch's CPU and CUDA generator states and restores them when destroyed, so code run
/// in between (the sanity check, for one) does not change the randomness of what follows
/// (Lightning's `isolate_rng`).
class IsolateRng {
 public:
  IsolateRng();
  ~IsolateRng();
  IsolateRng(const IsolateRng&) = delete;
  IsolateRng& operator=(const IsolateRng&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lightning
