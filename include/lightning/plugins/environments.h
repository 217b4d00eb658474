#pragma once
/// Cluster environments: where a process learns its ranks, the world size and the address of
/// the main process (Lightning's `lightning.fabric.plugins.environments`).
#include "lightning/plugins/plugin.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace lightning::plugins {

/// What a distributed strategy asks of the cluster it runs on. Pass one through
/// `TrainerOptions::plugins` to override detection (`detect_cluster_environment()`).
/// Getters that read an environment variable throw `MisconfigurationException` naming the
/// variable when it is missing (where required) or not an integer.
class ClusterEnvironment : public Plugin {
 public:
  /// Whether the processes are launched by someone else (torchrun, srun, the user) rather
  /// than by Lightning's launcher.
  virtual bool creates_processes_externally() const = 0;
  /// The host through which all processes connect to the main process.
  virtual std::string main_address() const = 0;
  /// An open port on `main_address()`.
  virtual int main_port() const = 0;
  /// The number of processes across all devices and nodes.
  virtual int64_t world_size() const = 0;
  /// Called by the strategy; environments whose world size comes from the launcher ignore it.
  virtual void set_world_size(int64_t size);
  /// The index of this process across all nodes and devices.
  virtual int64_t global_rank() const = 0;
  /// Called by the strategy; environments whose ranks come from the launcher ignore it.
  virtual void set_global_rank(int64_t rank);
  /// The index of this process on its node.
  virtual int64_t local_rank() const = 0;
  /// The index of this process's node.
  virtual int64_t node_rank() const = 0;
  /// Throws `MisconfigurationException` when the Trainer's `devices`/`num_nodes` contradict
  /// what the cluster launched.
  virtual void validate_settings(int64_t /*num_devices*/, int64_t /*num_nodes*/) const {}
  /// Cleans up state set during the run.
  virtual void teardown() {}
  /// The class name, for messages: `"SLURMEnvironment"`.
  virtual std::string name() const = 0;
};

/// The default, for a single node or a cluster nobody manages. Either Lightning launches the
/// processes (nothing set), or the user does and sets at least `LOCAL_RANK` (plus
/// `MASTER_ADDR`, `MASTER_PORT`, `NODE_RANK` as needed).
class LightningEnvironment : public ClusterEnvironment {
 public:
  /// Always true: this is the fallback.
  static bool detect();
  /// Whether `LOCAL_RANK` is set.
  bool creates_processes_externally() const override;
  /// `MASTER_ADDR`, else `"127.0.0.1"`.
  std::string main_address() const override;
  /// `MASTER_PORT`, else a free port chosen by the OS; the first answer is kept, so every
  /// call returns the same port.
  int main_port() const override;
  /// Set by the strategy; 1 until then.
  int64_t world_size() const override;
  void set_world_size(int64_t size) override;
  /// Set by the strategy; 0 until then.
  int64_t global_rank() const override;
  void set_global_rank(int64_t rank) override;
  /// `LOCAL_RANK`, else 0.
  int64_t local_rank() const override;
  /// `NODE_RANK`, else `GROUP_RANK`, else 0.
  int64_t node_rank() const override;
  /// Unsets `WORLD_SIZE`, as Lightning does.
  void teardown() override;
  std::string name() const override;

 private:
  mutable int main_port_ = -1;
  int64_t world_size_ = 1;
  int64_t global_rank_ = 0;
};

/// Processes launched by `torchrun` (torchelastic): everything comes from its variables and
/// the setters are ignored.
class TorchElasticEnvironment : public ClusterEnvironment {
 public:
  /// Whether `RANK`, `GROUP_RANK`, `LOCAL_RANK` and `LOCAL_WORLD_SIZE` are all set.
  static bool detect();
  /// Always true.
  bool creates_processes_externally() const override;
  /// `MASTER_ADDR` (required).
  std::string main_address() const override;
  /// `MASTER_PORT` (required).
  int main_port() const override;
  /// `WORLD_SIZE` (required).
  int64_t world_size() const override;
  /// Ignored; a warning on stderr when `size` differs from `WORLD_SIZE`.
  void set_world_size(int64_t size) override;
  /// `RANK` (required).
  int64_t global_rank() const override;
  /// Ignored; a warning on stderr when `rank` differs from `RANK`.
  void set_global_rank(int64_t rank) override;
  /// `LOCAL_RANK` (required).
  int64_t local_rank() const override;
  /// `GROUP_RANK`, else 0.
  int64_t node_rank() const override;
  /// `num_devices * num_nodes` must equal `WORLD_SIZE`, and `num_devices` must equal
  /// `LOCAL_WORLD_SIZE` when that is set.
  void validate_settings(int64_t num_devices, int64_t num_nodes) const override;
  std::string name() const override;
};

/// A job launched with `srun` on a SLURM cluster. `MASTER_ADDR` and `MASTER_PORT` override the
/// address and port derived from SLURM's variables. Name the job `bash` or `interactive`
/// (`srun --job-name=interactive`) to keep it from being detected, e.g. to launch processes
/// yourself inside an allocation.
///
/// Lightning's automatic requeueing (`auto_requeue`, `requeue_signal`: resubmitting the job on
/// SIGUSR1) is not part of this port.
class SLURMEnvironment : public ClusterEnvironment {
 public:
  /// Whether `SLURM_NTASKS` is set and the job is not interactive.
  static bool detect();
  /// `SLURM_JOB_NAME`, if set.
  static std::optional<std::string> job_name();
  /// `SLURM_JOB_ID`; none in interactive mode or when it is not an integer.
  static std::optional<int64_t> job_id();
  /// The first host of a SLURM node list, as Lightning's regular expressions give it:
  /// `"host[5-9,1]"` → `"host5"`, `"alpha beta"` → `"alpha"`, `"a1,a2"` → `"a1"`.
  static std::string resolve_root_node_address(const std::string& nodes);

  /// Always true.
  bool creates_processes_externally() const override;
  /// `MASTER_ADDR`, else the first host of `SLURM_NODELIST` (or `SLURM_JOB_NODELIST`), else
  /// `"127.0.0.1"`.
  std::string main_address() const override;
  /// `MASTER_PORT`, else 15000 + the last four digits of `SLURM_JOB_ID`, else 12910.
  int main_port() const override;
  /// `SLURM_NTASKS` (required).
  int64_t world_size() const override;
  /// Ignored; a warning on stderr when `size` differs from `SLURM_NTASKS`.
  void set_world_size(int64_t size) override;
  /// `SLURM_PROCID` (required).
  int64_t global_rank() const override;
  /// Ignored; a warning on stderr when `rank` differs from `SLURM_PROCID`.
  void set_global_rank(int64_t rank) override;
  /// `SLURM_LOCALID` (required).
  int64_t local_rank() const override;
  /// `SLURM_NODEID` (required).
  int64_t node_rank() const override;
  /// Outside interactive mode: `--ntasks` > 1 needs `--ntasks-per-node`, which must equal
  /// `num_devices`; `--nodes` (`SLURM_NNODES`) must equal `num_nodes`.
  void validate_settings(int64_t num_devices, int64_t num_nodes) const override;
  std::string name() const override;
};

/// The environment this process runs in, in Lightning's order: torchrun (it also runs inside
/// SLURM allocations), then SLURM, else `LightningEnvironment`.
std::shared_ptr<ClusterEnvironment> detect_cluster_environment();

}  // namespace lightning::plugins
