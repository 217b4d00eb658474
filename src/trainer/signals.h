#pragma once
// Signals during a run. Ctrl+C: the first SIGINT asks the loops to stop gracefully, a second
// exits at once. SIGTERM (preemption, SLURM): the loops stop after the current batch and the
// Trainer saves an HPC checkpoint before exiting.

namespace lightning::detail {

/// Thrown by the loops when a SIGINT arrived; the Trainer turns it into an "interrupted" run.
struct Interrupted {};
/// Thrown by the loops when a SIGTERM arrived.
struct Terminated {};

/// Exit status after a SIGTERM was handled (128 + SIGTERM, as a shell reports it).
inline constexpr int kSigtermExitCode = 143;

/// Installs the SIGINT and SIGTERM handlers for its lifetime and restores the previous ones after.
class SignalGuard {
 public:
  /// `sigterm_saves_checkpoint`: what the SIGTERM message announces (true in `fit`).
  explicit SignalGuard(bool sigterm_saves_checkpoint);
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
};

/// Throws Terminated if a SIGTERM arrived, Interrupted if a SIGINT did, since the guard was installed.
void raise_if_interrupted();
/// Whether a SIGTERM arrived since the guard was installed.
bool sigterm_received();

}  // namespace lightning::detail
