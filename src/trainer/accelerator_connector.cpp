#include "trainer/accelerator_connector.h"

#include "lightning/accelerators/registry.h"
#include "lightning/plugins/checkpoint_io.h"
#include "lightning/plugins/environments.h"
#include "lightning/plugins/layer_sync.h"
#include "lightning/precision/precision.h"
#include "lightning/strategies/ddp.h"
#include "lightning/strategies/registry.h"
#include "lightning/strategies/single_device.h"
#include "lightning/utilities/errors.h"

#include <torch/version.h>

#include <fmt/format.h>

namespace lightning::detail {
namespace {

struct PluginFlags {
  std::shared_ptr<plugins::Precision> precision;
  std::shared_ptr<plugins::CheckpointIO> checkpoint_io;
  std::shared_ptr<plugins::ClusterEnvironment> cluster_environment;
  std::shared_ptr<plugins::LayerSync> layer_sync;
};

PluginFlags sort_plugins(const std::vector<std::shared_ptr<plugins::Plugin>>& given) {
  PluginFlags flags;
  for (size_t i = 0; i < given.size(); ++i) {
    if (auto precision = std::dynamic_pointer_cast<plugins::Precision>(given[i])) {
      if (flags.precision)
        throw MisconfigurationException("plugins holds more than one precision plugin; accepted: at most one");
      flags.precision = std::move(precision);
      continue;
    }
    if (auto layer_sync = std::dynamic_pointer_cast<plugins::LayerSync>(given[i])) {
      if (flags.layer_sync)
        throw MisconfigurationException("plugins holds more than one LayerSync; accepted: at most one");
      flags.layer_sync = std::move(layer_sync);
      continue;
    }
    if (auto environment = std::dynamic_pointer_cast<plugins::ClusterEnvironment>(given[i])) {
      if (flags.cluster_environment)
        throw MisconfigurationException("plugins holds more than one ClusterEnvironment; accepted: at most one");
      flags.cluster_environment = std::move(environment);
      continue;
    }
    auto io = std::dynamic_pointer_cast<plugins::CheckpointIO>(given[i]);
    if (!io)
      throw MisconfigurationException(fmt::format(
          "plugins[{}] is {}; accepted: a CheckpointIO (TorchCheckpointIO, AsyncCheckpointIO or your own), a "
          "precision plugin or a ClusterEnvironment",
          i, given[i] ? "of an unsupported type" : "null"));
    if (flags.checkpoint_io)
      throw MisconfigurationException(
          "plugins holds more than one CheckpointIO; accepted: at most one (wrap one in AsyncCheckpointIO)");
    flags.checkpoint_io = std::move(io);
  }
  return flags;
}

std::shared_ptr<accelerators::Accelerator> choose_accelerator(const AcceleratorInput& flag) {
  if (flag.object) return flag.object;
  auto& registry = accelerators::AcceleratorRegistry::instance();
  // "gpu" is CUDA in this build (Lightning also picks Apple's MPS there); "auto" the best one present.
  if (flag.name == "auto") {
    auto cuda = registry.get("cuda");
    return cuda->is_available() ? cuda : registry.get("cpu");
  }
  auto accelerator = registry.get(flag.name == "gpu" ? "cuda" : flag.name);
  if (!accelerator->is_available())
    throw MisconfigurationException(fmt::format(
        "accelerator='{}' is not available: no {} device was found; accepted here: 'cpu', 'auto'", flag.name,
        accelerator->name() == "cuda" ? "CUDA" : accelerator->name()));
  return accelerator;
}

/// LibTorch 1.13 has no float16 addmm on the CPU; later versions do. Asked once, of LibTorch itself.
bool cpu_half_matmul_available() {
  static const bool available = [] {
    try {
      torch::mm(torch::ones({1, 1}, torch::kHalf), torch::ones({1, 1}, torch::kHalf));
      return true;
    } catch (const c10::Error&) {
      return false;
    }
  }();
  return available;
}

void check_precision_on_cpu(const std::string& precision, const std::string& flag) {
  if (precision == "16-true" && !cpu_half_matmul_available())
    throw MisconfigurationException(
        fmt::format("`Trainer(accelerator='cpu', precision='{}')` is not supported by this LibTorch {}: its CPU "
                    "kernels have no float16 matrix multiply; accepted on the CPU: 'bf16-true', 'bf16-mixed', "
                    "'32-true', '64-true'",
                    flag, TORCH_VERSION));
  if (precision == "16-mixed")
    throw MisconfigurationException(
        fmt::format("`Trainer(accelerator='cpu', precision='{}')` is not supported: 16-bit mixed precision needs "
                    "CUDA; accepted on the CPU: 'bf16-mixed', 'bf16-true', '32-true', '64-true'",
                    flag));
}

}  // namespace

ConnectedStrategy connect_strategy(const TrainerOptions& o, const std::string& precision) {
  auto plugin_flags = sort_plugins(o.plugins);
  if (o.num_nodes < 1)
    throw MisconfigurationException(fmt::format("num_nodes={} is invalid; accepted: an int >= 1", o.num_nodes));

  // A Strategy object may bring its own accelerator and plugins: the flags must not name them again.
  auto strategy = o.strategy.object;
  if (strategy) {
    if (strategy->accelerator() && (o.accelerator.object || o.accelerator.name != "auto"))
      throw MisconfigurationException(fmt::format(
          "accelerator={} was given both by the strategy object and by the `accelerator` flag; accepted: one of them",
          o.accelerator.str()));
    if (strategy->has_precision_plugin() && plugin_flags.precision)
      throw MisconfigurationException(
          "The precision plugin was given both by the strategy object and in `plugins`; accepted: one of them");
    if (strategy->has_checkpoint_io() && plugin_flags.checkpoint_io)
      throw MisconfigurationException(
          "The CheckpointIO was given both by the strategy object and in `plugins`; accepted: one of them");
  }
  std::shared_ptr<accelerators::Accelerator> accelerator;
  if (strategy && strategy->accelerator())
    accelerator = std::shared_ptr<accelerators::Accelerator>(strategy, strategy->accelerator());
  else
    accelerator = choose_accelerator(o.accelerator);

  ConnectedStrategy out;
  out.device_ids = accelerator->parse_devices(o.devices);
  const auto devices = accelerator->get_parallel_devices(o.devices);
  // A job launched outside (torchrun, srun) with several processes is distributed whatever the flags
  // say; DDP then checks the flags against it, rather than every process training alone.
  auto environment = plugin_flags.cluster_environment ? plugin_flags.cluster_environment
                                                      : plugins::detect_cluster_environment();
  const bool launched_outside = environment->creates_processes_externally() && environment->world_size() > 1;
  if (!strategy) {
    const bool distributed = devices.size() > 1 || o.num_nodes > 1 || launched_outside;
    strategy = o.strategy.name != "auto" ? strategies::StrategyRegistry::instance().get(o.strategy.name)
               : distributed             ? std::shared_ptr<strategies::Strategy>(std::make_shared<strategies::DDPStrategy>())
                                         : std::make_shared<strategies::SingleDeviceStrategy>();
  }
  auto* parallel = dynamic_cast<strategies::ParallelStrategy*>(strategy.get());
  if (!parallel && (devices.size() > 1 || o.num_nodes > 1))
    throw MisconfigurationException(fmt::format(
        "devices={} and num_nodes={} select {} process(es), and strategy '{}' runs one; accepted: strategy='ddp' "
        "(or 'auto'), or devices=1 and num_nodes=1",
        o.devices.str(), o.num_nodes, devices.size() * static_cast<size_t>(o.num_nodes), strategy->name()));
  if (!strategy->accelerator()) strategy->set_accelerator(accelerator);
  strategy->set_parallel_devices(devices);
  if (parallel) {
    if (!parallel->cluster_environment()) parallel->set_cluster_environment(environment);
    parallel->set_num_nodes(o.num_nodes);
    parallel->set_world_ranks();  // known from now on: loggers and callbacks ask before the run starts
    // As Lightning: the flag, or a plugin, selects the layer sync; one process has nothing to sync.
    if (plugin_flags.layer_sync)
      parallel->set_layer_sync(plugin_flags.layer_sync);
    else if (o.sync_batchnorm)
      parallel->set_layer_sync(std::make_shared<plugins::TorchSyncBatchNorm>());
  } else if (plugin_flags.cluster_environment) {
    throw MisconfigurationException(fmt::format(
        "plugins holds a {}, and strategy '{}' runs one process; accepted: a ClusterEnvironment with a distributed "
        "strategy ('ddp')",
        plugin_flags.cluster_environment->name(), strategy->name()));
  }
  if (plugin_flags.checkpoint_io) strategy->set_checkpoint_io(plugin_flags.checkpoint_io);
  if (plugin_flags.precision) strategy->set_precision_plugin(plugin_flags.precision);
  if (!strategy->has_precision_plugin()) {
    // The flag's limits on the CPU; a plugin object is taken as given (16-mixed's scaler runs on CPU tensors too).
    if (strategy->root_device().is_cpu()) check_precision_on_cpu(precision, o.precision.value);
    strategy->set_precision_plugin(std::make_shared<plugins::Precision>(precision));
  }
  out.strategy = std::move(strategy);
  out.num_nodes = o.num_nodes;
  return out;
}

}  // namespace lightning::detail
