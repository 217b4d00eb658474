#include "lightning/strategies/parallel.h"

#include "lightning/plugins/environments.h"
#include "lightning/plugins/layer_sync.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"

#include <fmt/format.h>

namespace lightning::strategies {

ParallelStrategy::ParallelStrategy(std::shared_ptr<accelerators::Accelerator> accelerator,
                                   std::vector<torch::Device> parallel_devices,
                                   std::shared_ptr<plugins::ClusterEnvironment> cluster_environment,
                                   std::shared_ptr<plugins::CheckpointIO> checkpoint_io,
                                   std::shared_ptr<plugins::Precision> precision_plugin)
    : Strategy(std::move(accelerator), std::move(checkpoint_io), std::move(precision_plugin)),
      parallel_devices_(std::move(parallel_devices)),
      devices_given_(!parallel_devices_.empty()),
      cluster_environment_(std::move(cluster_environment)) {}

ParallelStrategy::~ParallelStrategy() = default;

void ParallelStrategy::set_cluster_environment(std::shared_ptr<plugins::ClusterEnvironment> environment) {
  cluster_environment_ = std::move(environment);
}

void ParallelStrategy::set_layer_sync(std::shared_ptr<plugins::LayerSync> layer_sync) {
  layer_sync_ = std::move(layer_sync);
}

void ParallelStrategy::set_parallel_devices(const std::vector<torch::Device>& devices) {
  if (!devices_given_) parallel_devices_ = devices;
}

torch::Device ParallelStrategy::root_device() const {
  if (parallel_devices_.empty()) return torch::Device(torch::kCPU);
  const auto rank = local_rank();
  if (rank < 0 || rank >= num_processes())
    throw MisconfigurationException(fmt::format(
        "LOCAL_RANK={} is out of range: this node runs {} process(es) (devices={}); accepted: 0 to {}", rank,
        num_processes(), num_processes(), num_processes() - 1));
  return parallel_devices_[static_cast<size_t>(rank)];
}

void ParallelStrategy::set_world_ranks() {
  if (!cluster_environment_) return;
  cluster_environment_->set_global_rank(node_rank() * num_processes() + local_rank());
  cluster_environment_->set_world_size(num_nodes_ * num_processes());
  set_rank_zero_only_rank(global_rank());
}

int64_t ParallelStrategy::world_size() const { return cluster_environment_ ? cluster_environment_->world_size() : 1; }
int64_t ParallelStrategy::global_rank() const { return cluster_environment_ ? cluster_environment_->global_rank() : 0; }
int64_t ParallelStrategy::local_rank() const { return cluster_environment_ ? cluster_environment_->local_rank() : 0; }
int64_t ParallelStrategy::node_rank() const { return cluster_environment_ ? cluster_environment_->node_rank() : 0; }

bool ParallelStrategy::reduce_boolean_decision(bool decision, bool all) {
  const auto votes = reduce(torch::tensor(static_cast<int64_t>(decision)), "sum").item<int64_t>();
  return all ? votes == world_size() : votes > 0;
}

}  // namespace lightning::strategies
