#pragma once
/// Launchers: how a distributed strategy starts its processes (Lightning's `_Launcher`s).
#include <cstdint>
#include <functional>
#include <vector>

namespace lightning {
namespace plugins {
class ClusterEnvironment;
}  // namespace plugins

namespace strategies {

class Launcher {
 public:
  virtual ~Launcher() = default;
  /// Starts the processes this run needs, and runs `function` (the Trainer's fit, validate,
  /// test or predict) where it belongs.
  virtual void launch(const std::function<void()>& function) = 0;
  /// Whether it works from an interactive session (a notebook, a REPL); false for launchers that
  /// re-execute the program.
  virtual bool is_interactive_compatible() const = 0;
  /// Sends `signal` to the processes it started (Lightning's `launcher.kill`): the Trainer calls
  /// it when the run fails in this process, so that no rank waits for it until the timeout.
  virtual void kill(int signal) {}
};

/// `strategy="ddp"`: this process becomes local rank 0 and starts local ranks 1..N-1 by running
/// the same program with the same arguments and working folder, and with `MASTER_ADDR`,
/// `MASTER_PORT`, `NODE_RANK`, `LOCAL_RANK` and `WORLD_SIZE` set (Lightning's
/// `_SubprocessScriptLauncher`). The children reach the same `fit` call, find `LOCAL_RANK` and
/// join the process group instead of starting processes of their own.
///
/// A child that exits with an error or is killed makes this process kill the other children and
/// exit with that child's status (128 + the signal number when killed); a child outlives this
/// process by nothing (the kernel kills it when its parent dies). When this process exits
/// normally it first waits for its children and exits non-zero if one failed.
class SubprocessScriptLauncher : public Launcher {
 public:
  SubprocessScriptLauncher(plugins::ClusterEnvironment& environment, int64_t num_processes, int64_t num_nodes);
  /// Starts the children once (when the environment did not start this process), then runs
  /// `function` here.
  void launch(const std::function<void()>& function) override;
  bool is_interactive_compatible() const override { return false; }
  void kill(int signal) override;
  /// The process ids of the children this launcher started.
  const std::vector<int>& procs() const { return procs_; }

 private:
  void call_children_scripts();
  plugins::ClusterEnvironment& environment_;
  int64_t num_processes_;
  int64_t num_nodes_;
  std::vector<int> procs_;
};

}  // namespace strategies
}  // namespace lightning
