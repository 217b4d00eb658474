#include "trainer/signals.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace lightning::detail {
namespace {

std::atomic<int> sigint_count{0};

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

}  // namespace

SignalGuard::SignalGuard() {
  sigint_count = 0;
  previous_ = std::signal(SIGINT, on_sigint);
}

SignalGuard::~SignalGuard() {
  std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
  sigint_count = 0;
}

void raise_if_interrupted() {
  if (sigint_count.load(std::memory_order_relaxed) > 0) throw Interrupted{};
}

}  // namespace lightning::detail
