#pragma once
/// Launchers: how a distributed strategy starts its processes (Lightning's `_Launcher`s).
#include "lightning/checkpoint/dict.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace lightning {
namespace plugins {
class CheckpointIO;
class ClusterEnvironment;
}  // namespace plugins

namespace strategies {

class Launcher {
 public:
  virtual ~Launcher() = default;
  /// Starts the processes this run needs, and runs `function` (the Trainer's fit, validate,
  /// test or predict) where it belongs. A launcher that runs it in other processes only
  /// (`returns_results()`) returns what it returned in global rank 0; the others, nullopt.
  virtual std::optional<Dict> launch(const std::function<Dict()>& function) = 0;
  /// Whether this process only waits for others and gets their results back (`ddp_spawn`): the
  /// Trainer's function then returns what the caller needs (weights, best checkpoint, metrics).
  virtual bool returns_results() const { return false; }
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
  std::optional<Dict> launch(const std::function<Dict()>& function) override;
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

/// `strategy="ddp_spawn"`: processes started from inside `fit` (Lightning's `_MultiProcessingLauncher`
/// with "spawn"). This process does not train: it runs the program again once per local rank,
/// waits for them, and gets back from rank 0 the final weights, the best checkpoint's path,
/// `callback_metrics` and the results of `validate`/`test`, as Lightning documents (not
/// `predict`'s predictions). A worker ends when its call returns: the rest of the program runs in
/// the caller. A later call (`fit`, then `test`) spawns again: its workers rerun the program, and
/// there the earlier calls do not train but take back what the caller got from them, so each
/// worker starts its call from the caller's state. What the program does between the calls runs
/// in every worker too. A worker that fails stops the others, and the caller's call throws
/// DistributedError naming it.
class SpawnLauncher : public Launcher {
 public:
  /// `checkpoint_io` writes and reads rank 0's results (a TorchCheckpointIO unless given).
  SpawnLauncher(plugins::ClusterEnvironment& environment, int64_t num_processes, int64_t num_nodes,
                std::shared_ptr<plugins::CheckpointIO> checkpoint_io = nullptr);
  std::optional<Dict> launch(const std::function<Dict()>& function) override;
  bool returns_results() const override { return true; }
  bool is_interactive_compatible() const override { return false; }
  void kill(int signal) override;

 private:
  plugins::ClusterEnvironment& environment_;
  int64_t num_processes_;
  int64_t num_nodes_;
  std::shared_ptr<plugins::CheckpointIO> checkpoint_io_;
  std::vector<int> procs_;
};

}  // namespace strategies
}  // namespace lightning
