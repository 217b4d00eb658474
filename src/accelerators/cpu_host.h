#pragma once
// Process-wide host settings that the CPU accelerator applies before a fit: glibc's allocator and
// OpenBLAS's thread count. Both are idempotent and cheap, so setup_device() calls them on every fit.
#include <optional>

namespace lightning::detail {

// Default visibility: the bench (bench/cpu_host_memory.cpp) calls these directly, and must still
// link them if the library is built shared with -fvisibility=hidden.

/// Makes glibc keep freed tensor buffers instead of returning them to the OS and faulting them back
/// in on the next step: mallopt M_MMAP_THRESHOLD = 128 MiB and M_TRIM_THRESHOLD = 1 GiB, what the
/// MALLOC_MMAP_THRESHOLD_=134217728 MALLOC_TRIM_THRESHOLD_=1073741824 environment does. Applied once
/// per process. Leaves glibc alone when the user tunes it (MALLOC_MMAP_THRESHOLD_,
/// MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_, or their glibc.malloc.* names in GLIBC_TUNABLES) and
/// outside glibc. Returns whether this call changed the settings (false when already applied or
/// left alone). The cost: up to 1 GiB of freed heap stays with the process.
[[gnu::visibility("default")]] bool tune_host_allocator();

/// Sets OpenBLAS's thread count to `intra_op_threads` (at::get_num_threads()), so that with one
/// intra-op thread no OpenBLAS worker shares (and spins on) the cores. OpenBLAS is found by dlsym
/// (no link dependency: the libblas.so.3 that LibTorch loaded may be another BLAS). The user's
/// OPENBLAS_NUM_THREADS (or its older name GOTO_NUM_THREADS), which OpenBLAS read when it was loaded,
/// wins; OMP_NUM_THREADS does not, because LibTorch already took it into at::get_num_threads() unless
/// the program chose a count itself. Call it while no BLAS call is in flight. Returns the count
/// OpenBLAS now uses (it caps it at its build's MAX_THREADS), or std::nullopt when OpenBLAS is not
/// loaded or the environment decides. Throws c10::Error unless `intra_op_threads` >= 1.
[[gnu::visibility("default")]] std::optional<int> match_blas_threads(int intra_op_threads);

}  // namespace lightning::detail
