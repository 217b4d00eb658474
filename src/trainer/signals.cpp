#include "trainer/signals.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace lightning::detail {
namespace {

std::atomic<int> sigint_count{0};
std::atomic<bool> sigterm_flag{false};
std::atomic<bool> sigterm_saves{false};

extern "C" void on_sigint(int) {
  if (sigint_count.fetch_add(1) >= 1) {
    // Second Ctrl+C: the user wants out now.
    constexpr char message[] = "\nSecond interrupt: exiting immediately.\n";
    (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
    _exit(130);
  }
  constexpr char message[] = "\nDetected KeyboardInterrupt, attempting graceful shutdown ...\n";
  (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
}

extern "C" void on_sigterm(int) {
  sigterm_flag = true;
  constexpr char saving[] = "\nReceived SIGTERM: saving a checkpoint after the current batch, then exiting.\n";
  constexpr char stopping[] =
      "\nReceived SIGTERM: stopping after the current batch, then exiting (outside `fit` there is no training "
      "state to save).\n";
  if (sigterm_saves.load())
    (void)!write(STDERR_FILENO, saving, sizeof(saving) - 1);
  else
    (void)!write(STDERR_FILENO, stopping, sizeof(stopping) - 1);
}

}  // namespace

SignalGuard::SignalGuard(bool sigterm_saves_checkpoint) {
  sigint_count = 0;
  sigterm_flag = false;
  sigterm_saves = sigterm_saves_checkpoint;
  previous_int_ = std::signal(SIGINT, on_sigint);
  previous_term_ = std::signal(SIGTERM, on_sigterm);
}

SignalGuard::~SignalGuard() {
  std::signal(SIGINT, previous_int_ == SIG_ERR ? SIG_DFL : previous_int_);
  std::signal(SIGTERM, previous_term_ == SIG_ERR ? SIG_DFL : previous_term_);
  sigint_count = 0;
  sigterm_flag = false;
}

void raise_if_interrupted() {
  if (sigterm_flag.load(std::memory_order_relaxed)) throw Terminated{};
  if (sigint_count.load(std::memory_order_relaxed) > 0) throw Interrupted{};
}

bool sigterm_received() { return sigterm_flag.load(std::memory_order_relaxed); }

}  // namespace lightning::detail
