#include "accelerators/cpu_host.h"

#include <dlfcn.h>
#include <malloc.h>

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <mutex>

namespace lightning::detail {

namespace {

// Above every buffer of a typical step, so that they come from the heap rather than from a fresh
// mmap faulted in page by page. glibc's own dynamic threshold stops at 32 MiB, below a batch-500
// activation of the Fashion-MNIST CNN (50 MB).
constexpr int kMmapThreshold = 128 << 20;
// Far above what one step frees, so that glibc does not hand the heap's top back between steps.
constexpr int kTrimThreshold = 1 << 30;

bool user_tunes_malloc() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(name) != nullptr) return true;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables == nullptr) return false;
  for (const char* name : {"glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold", "glibc.malloc.top_pad"})
    if (std::strstr(tunables, name) != nullptr) return true;
  return false;
}

/// Positive like OpenBLAS's own reading of its environment (atoi, values <= 0 ignored).
bool env_sets_threads(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::atoi(value) > 0;
}

struct OpenBlas {
  int (*get_num_threads)() = nullptr;
  void (*set_num_threads)(int) = nullptr;
  bool env_decides = false;
};

/// Looked up once: neither the loaded libraries nor the environment OpenBLAS read at load change.
const OpenBlas& openblas() {
  static const OpenBlas found = [] {
    OpenBlas o;
    o.get_num_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    o.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    o.env_decides = env_sets_threads("OPENBLAS_NUM_THREADS") || env_sets_threads("GOTO_NUM_THREADS");
    return o;
  }();
  return found;
}

}  // namespace

bool tune_host_allocator() {
#ifdef __GLIBC__
  static std::once_flag once;
  bool changed = false;
  std::call_once(once, [&] {
    if (user_tunes_malloc()) return;
    // The mmap threshold first, and the trim threshold only if glibc took it: setting either one
    // stops glibc adjusting both, so a trim threshold alone would pin the mmap threshold where it
    // is (128 KiB at start), making most tensor buffers a fresh mmap.
    changed = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  });
  return changed;
#else
  return false;
#endif
}

std::optional<int> match_blas_threads(int intra_op_threads) {
  TORCH_CHECK(intra_op_threads >= 1, "match_blas_threads: intra_op_threads must be >= 1, got ", intra_op_threads);
  const OpenBlas& blas = openblas();
  if (blas.get_num_threads == nullptr || blas.set_num_threads == nullptr || blas.env_decides) return std::nullopt;
  // Only on a change: OpenBLAS takes its server lock and may start threads to grow the pool.
  if (blas.get_num_threads() != intra_op_threads) blas.set_num_threads(intra_op_threads);
  return blas.get_num_threads();
}

}  // namespace lightning::detail
