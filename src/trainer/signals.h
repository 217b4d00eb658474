#pragma once
// Ctrl+C during fit: the first SIGINT asks the loops to stop gracefully, a second exits at once.

namespace lightning::detail {

/// Thrown by the loops when a SIGINT arrived; the Trainer turns it into an "interrupted" run.
struct Interrupted {};

/// Installs the SIGINT handler for its lifetime and restores the previous one after.
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  void (*previous_)(int) = nullptr;
};

/// Throws Interrupted if a SIGINT arrived since the guard was installed.
void raise_if_interrupted();

}  // namespace lightning::detail
