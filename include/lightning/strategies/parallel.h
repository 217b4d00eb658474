#pragma once
/// ParallelStrategy: the base of strategies that run several processes, one device each
/// (Lightning's `ParallelStrategy`). It holds the parallel devices, the number of nodes and the
/// cluster environment that tells each process its ranks.
#include "lightning/strategies/strategy.h"

namespace lightning {
namespace plugins {
class ClusterEnvironment;
class LayerSync;
}  // namespace plugins

namespace strategies {

class ParallelStrategy : public Strategy {
 public:
  ParallelStrategy(std::shared_ptr<accelerators::Accelerator> accelerator, std::vector<torch::Device> parallel_devices,
                   std::shared_ptr<plugins::ClusterEnvironment> cluster_environment,
                   std::shared_ptr<plugins::CheckpointIO> checkpoint_io,
                   std::shared_ptr<plugins::Precision> precision_plugin);
  ~ParallelStrategy() override;

  /// Null until given or chosen by the Trainer (from the environment variables it finds).
  plugins::ClusterEnvironment* cluster_environment() const { return cluster_environment_.get(); }
  void set_cluster_environment(std::shared_ptr<plugins::ClusterEnvironment> environment);
  const std::vector<torch::Device>& parallel_devices() const { return parallel_devices_; }
  /// Keeps devices given to the constructor; else takes the Trainer's.
  void set_parallel_devices(const std::vector<torch::Device>& devices) override;
  /// Processes on this node: one per parallel device.
  int64_t num_processes() const { return static_cast<int64_t>(parallel_devices_.size()); }
  int64_t num_nodes() const override { return num_nodes_; }
  void set_num_nodes(int64_t num_nodes) { num_nodes_ = num_nodes; }
  /// This process's device: the parallel device of its local rank.
  torch::Device root_device() const override;

  /// Lightning's `set_world_ranks`: global rank = node rank * processes per node + local rank,
  /// world size = nodes * processes per node, told to the cluster environment.
  void set_world_ranks();
  int64_t world_size() const override;
  int64_t global_rank() const override;
  int64_t local_rank() const override;
  int64_t node_rank() const override;

  /// What `sync_batchnorm=true` (or a LayerSync in `plugins`) gave: applied to the module for a fit.
  plugins::LayerSync* layer_sync() const { return layer_sync_.get(); }
  void set_layer_sync(std::shared_ptr<plugins::LayerSync> layer_sync);

  /// Through `reduce` (a sum of the decisions).
  bool reduce_boolean_decision(bool decision, bool all = true) override;

 protected:
  std::vector<torch::Device> parallel_devices_;
  bool devices_given_ = false;
  std::shared_ptr<plugins::ClusterEnvironment> cluster_environment_;
  int64_t num_nodes_ = 1;
  std::shared_ptr<plugins::LayerSync> layer_sync_;
};

}  // namespace strategies
}  // namespace lightning
