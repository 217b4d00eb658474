#include "lightning/strategies/ddp.h"

#include "lightning/accelerators/accelerator.h"
#include "lightning/core/module.h"
#include "lightning/plugins/environments.h"
#include "lightning/plugins/layer_sync.h"
#include "lightning/strategies/launcher.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "strategies/c10d.h"
#include "strategies/process_observer.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

namespace lightning::strategies {
namespace {

namespace c10d_compat = detail::c10d_compat;

// Python's `torch.distributed` keeps one default process group per process; so do we: a second
// Trainer (or a test after a fit) reuses it. Never destroyed: at exit the peers may be gone, and
// Gloo's destructor must not wait for them.
struct ProcessGroupState {
  c10::intrusive_ptr<::c10d::Store> store;
  c10d_compat::ProcessGroupPtr group;
  std::string backend;
  int64_t rank = 0;
  int64_t world_size = 1;
};

ProcessGroupState& process_group() {
  static auto* state = new ProcessGroupState;
  return *state;
}

constexpr size_t kBroadcastBucketBytes = 250u * 1024 * 1024;  // DistributedDataParallel's

/// c10's messages carry a backtrace after their first line.
std::string first_line(std::string message) {
  if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  return message;
}

std::string failure_key(int64_t rank) { return fmt::format("lightning/failed/{}", rank); }

/// What the other ranks reported of their failures, through the store (empty if none did or the
/// store is gone with rank 0).
std::string reported_failures() {
  auto& pg = process_group();
  std::string out;
  if (!pg.store) return out;
  for (int64_t rank = 0; rank < pg.world_size; ++rank) {
    if (rank == pg.rank) continue;
    try {
      if (!pg.store->check({failure_key(rank)})) continue;
      const auto bytes = pg.store->get(failure_key(rank));
      out += fmt::format("; rank {} failed first: {}", rank, std::string(bytes.begin(), bytes.end()));
    } catch (...) {
      break;  // the store lives in rank 0's process: it may be gone
    }
  }
  return out;
}

/// Runs a collective; a failure becomes a DistributedError naming the operation, this rank, and
/// the rank that failed first when it said so. In the launcher's process a child that died is
/// the cause: the observer reports it and exits with its status.
template <typename F>
auto collective(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    detail::exit_if_a_child_failed(std::chrono::seconds(2));
    auto& pg = process_group();
    throw DistributedError(fmt::format("DDP: {} failed on rank {} of {}: {}{}", what, pg.rank, pg.world_size,
                                       first_line(e.what()), reported_failures()));
  }
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& main_address) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return ::c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  // A run on one machine stays on the loopback interface, whatever the hostname resolves to.
  if (main_address == "localhost" || main_address.rfind("127.", 0) == 0)
    return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return ::c10d::ProcessGroupGloo::createDefaultDevice();
}

void init_process_group(const std::string& backend, plugins::ClusterEnvironment& env, int64_t rank,
                        int64_t world_size, std::chrono::milliseconds timeout) {
  auto& pg = process_group();
  if (pg.group) {
    if (pg.rank != rank || pg.world_size != world_size || pg.backend != backend)
      throw MisconfigurationException(fmt::format(
          "This process already belongs to a process group (rank {} of {}, backend '{}'), and this Trainer asks for "
          "rank {} of {} on '{}'; accepted: the same devices, num_nodes and backend in every Trainer of a program",
          pg.rank, pg.world_size, pg.backend, rank, world_size, backend));
    return;
  }
  const std::string address = env.main_address();
  const int port = env.main_port();
  std::cerr << fmt::format("Initializing distributed: GLOBAL_RANK: {}, MEMBER: {}/{}", rank, rank + 1, world_size)
            << std::endl;
  ::c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(port);
  store_options.isServer = rank == 0;
  store_options.numWorkers = static_cast<size_t>(world_size);
  store_options.waitWorkers = true;
  store_options.timeout = timeout;
  try {
    pg.store = c10::make_intrusive<::c10d::TCPStore>(address, store_options);
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format(
        "DDP: rank {} of {} could not {} the rendezvous at MASTER_ADDR={} MASTER_PORT={}: {}; accepted: a port no other "
        "program uses (unset MASTER_PORT to let the launcher pick a free one), and every rank started within the "
        "timeout ({} s)",
        rank, world_size, rank == 0 ? "open" : "reach", address, port, first_line(e.what()), timeout.count() / 1000));
  }
  try {
    if (backend == "gloo") {
      pg.group = c10d_compat::gloo_group(pg.store, static_cast<int>(rank), static_cast<int>(world_size), timeout,
                                         gloo_device(address));
    } else {
#ifdef USE_C10D_NCCL
      pg.group = c10d_compat::nccl_group(pg.store, static_cast<int>(rank), static_cast<int>(world_size), timeout);
#endif
    }
  } catch (const std::exception& e) {
    pg.store.reset();
    throw DistributedError(fmt::format("DDP: rank {} of {} could not connect to the other ranks ({}): {}", rank,
                                       world_size, backend, first_line(e.what())));
  }
  pg.backend = backend;
  pg.rank = rank;
  pg.world_size = world_size;
}

::c10d::ProcessGroup& group() {
  auto& pg = process_group();
  if (!pg.group)
    throw MisconfigurationException(
        "DDP has no process group yet: collectives work once the Trainer's fit/validate/test/predict has set up its "
        "environment");
  return *pg.group;
}

// Lightning's `_AllGather`: the gradient of the gathered tensor, summed over the ranks, flows back
// to each rank's own slice.
struct AllGatherFunction : torch::autograd::Function<AllGatherFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& tensor) {
    auto input = tensor.detach().contiguous();
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t r = 0; r < process_group().world_size; ++r) outputs[0].push_back(torch::empty_like(input));
    std::vector<at::Tensor> inputs{input};
    collective("all_gather", [&] { group().allgather(outputs, inputs)->wait(); });
    return torch::stack(outputs[0]);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grads) {
    std::vector<at::Tensor> summed{grads[0].contiguous()};
    collective("all_gather's backward", [&] { group().allreduce(summed)->wait(); });
    return {summed[0][process_group().rank]};
  }
};

void broadcast_from_zero(std::vector<at::Tensor> tensors, const std::string& what) {
  if (tensors.empty()) return;
  collective(what, [&] { ::c10d::broadcast_coalesced(process_group().group, tensors, kBroadcastBucketBytes, 0); });
}

std::string error_message(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "an unknown error";
}

}  // namespace

struct DDPStrategy::Reducer {
  std::shared_ptr<::c10d::Reducer> reducer;
  std::vector<at::Tensor> buffers;
};

DDPStrategy::DDPStrategy() : DDPStrategy(Options{}) {}

DDPStrategy::DDPStrategy(Options options)
    : ParallelStrategy(options.accelerator, options.parallel_devices, options.cluster_environment,
                       options.checkpoint_io, options.precision_plugin),
      options_(std::move(options)) {
  if (options_.start_method != "popen" && options_.start_method != "spawn")
    throw MisconfigurationException(fmt::format(
        "DDPStrategy(start_method='{}') is not supported by this build; accepted: 'popen' (strategy='ddp'), 'spawn' "
        "(strategy='ddp_spawn')",
        options_.start_method));
  if (options_.process_group_backend && *options_.process_group_backend != "gloo" &&
      *options_.process_group_backend != "nccl")
    throw MisconfigurationException(fmt::format(
        "DDPStrategy(process_group_backend='{}') is not supported; accepted: 'gloo', 'nccl'",
        *options_.process_group_backend));
  if (options_.timeout.count() <= 0)
    throw MisconfigurationException(
        fmt::format("DDPStrategy(timeout={} ms) is invalid; accepted: a positive duration", options_.timeout.count()));
  if (!(options_.bucket_cap_mb > 0))
    throw MisconfigurationException(fmt::format(
        "DDPStrategy(bucket_cap_mb={}) is invalid; accepted: a positive number of megabytes", options_.bucket_cap_mb));
}

DDPStrategy::~DDPStrategy() = default;

std::string DDPStrategy::name() const { return options_.start_method == "spawn" ? "ddp_spawn" : "ddp"; }

std::string DDPStrategy::process_group_backend() const {
  if (options_.process_group_backend) return *options_.process_group_backend;
  return root_device().is_cuda() ? "nccl" : "gloo";
}

Launcher* DDPStrategy::launcher() {
  if (!launcher_ && cluster_environment_) {
    if (options_.start_method == "spawn")
      launcher_ = std::make_unique<SpawnLauncher>(*cluster_environment_, num_processes(), num_nodes_, checkpoint_io_);
    else
      launcher_ = std::make_unique<SubprocessScriptLauncher>(*cluster_environment_, num_processes(), num_nodes_);
  }
  return launcher_.get();
}

void DDPStrategy::setup_environment() {
  if (!cluster_environment_) cluster_environment_ = plugins::detect_cluster_environment();
  set_world_ranks();
  const auto backend = process_group_backend();
#ifndef USE_C10D_NCCL
  if (backend == "nccl")
    throw MisconfigurationException(
        "process_group_backend='nccl' is not available: this LibTorch was built without NCCL; accepted: 'gloo'");
#endif
  init_process_group(backend, *cluster_environment_, global_rank(), world_size(), options_.timeout);
  ParallelStrategy::setup_environment();
}

void DDPStrategy::model_to_device() {
  if (module_) module_->to(root_device());
}

void DDPStrategy::setup(Trainer& trainer) {
  ParallelStrategy::setup(trainer);
  reducer_.reset();
  backward_sync_ = true;
  buffers_synced_next_forward_ = true;
  // As Lightning: the module is wrapped (its states synchronised, its gradients reduced) for fit only.
  if (trainer.state().fn != TrainerFn::Fitting) return;
  auto& module = *module_;
  if (layer_sync_) layer_sync_->apply(module, *this);
  std::vector<at::Tensor> states;
  std::vector<at::Tensor> params;
  std::unordered_map<size_t, std::string> names;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    states.push_back(item.value().detach());
    if (!item.value().requires_grad()) continue;
    names.emplace(params.size(), item.key());
    params.push_back(item.value());
  }
  auto reducer = std::make_unique<Reducer>();
  for (const auto& buffer : module.buffers(/*recurse=*/true)) {
    states.push_back(buffer.detach());
    reducer->buffers.push_back(buffer.detach());
  }
  if (params.empty())
    throw MisconfigurationException(
        "DDPStrategy: the module has no parameter that requires a gradient, so there is nothing to synchronise "
        "(PyTorch: 'DistributedDataParallel is not needed when a module doesn't have any parameter that requires a "
        "gradient'); accepted: a module with trainable parameters, or strategy='single_device'");
  // Every rank starts from rank 0's weights (DistributedDataParallel's `_sync_module_states`).
  broadcast_from_zero(states, "broadcasting the module's parameters and buffers from rank 0");
  const auto bucket_bytes = static_cast<int64_t>(options_.bucket_cap_mb * 1024 * 1024);
  auto [buckets, limits] = ::c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(::c10d::kDefaultFirstBucketBytes), static_cast<size_t>(bucket_bytes)},
      std::vector<bool>(params.size(), false));
  // Reversed, as DistributedDataParallel does: gradients arrive roughly in reverse order of definition.
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  const auto n = params.size();
  reducer->reducer = std::make_shared<::c10d::Reducer>(
      std::move(params), std::move(buckets), std::move(limits), process_group().group, std::vector<bool>(n, false),
      bucket_bytes, options_.find_unused_parameters, options_.gradient_as_bucket_view, std::move(names),
      ::c10d::kDefaultFirstBucketBytes);
  if (options_.static_graph) reducer->reducer->set_static_graph();
  reducer_ = std::move(reducer);
}

void DDPStrategy::teardown() {
  reducer_.reset();
  if (layer_sync_ && module_) layer_sync_->revert(*module_);
  ParallelStrategy::teardown();
}

void DDPStrategy::pre_forward() {
  // DistributedDataParallel.forward's work before the module's: the reducer's bookkeeping, and
  // rank 0's buffers (BatchNorm statistics) when the previous forward was a synchronised one.
  if (!reducer_) return;
  const bool grad = torch::GradMode::is_enabled();
  if (grad && backward_sync_) reducer_->reducer->prepare_for_forward();
  if (grad) reducer_->reducer->rebuild_buckets();
  if (options_.broadcast_buffers && buffers_synced_next_forward_ && !reducer_->buffers.empty())
    broadcast_from_zero(reducer_->buffers, "broadcasting the module's buffers from rank 0");
  buffers_synced_next_forward_ = grad && backward_sync_;
}

StepOutput DDPStrategy::training_step(const Batch& batch, int64_t batch_idx) {
  pre_forward();
  return ParallelStrategy::training_step(batch, batch_idx);
}

StepOutput DDPStrategy::validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  pre_forward();
  return ParallelStrategy::validation_step(batch, batch_idx, dataloader_idx);
}

StepOutput DDPStrategy::test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  pre_forward();
  return ParallelStrategy::test_step(batch, batch_idx, dataloader_idx);
}

torch::IValue DDPStrategy::predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  pre_forward();
  return ParallelStrategy::predict_step(batch, batch_idx, dataloader_idx);
}

torch::Tensor DDPStrategy::backward(const torch::Tensor& loss, torch::optim::Optimizer* optimizer) {
  if (!reducer_ || !backward_sync_) return ParallelStrategy::backward(loss, optimizer);
  // With find_unused_parameters the reducer walks the graph from the loss to find the parameters
  // that get no gradient this step (DistributedDataParallel walks from the forward's output).
  std::vector<at::Tensor> outputs;
  if (options_.find_unused_parameters && !options_.static_graph) outputs.push_back(loss);
  reducer_->reducer->prepare_for_backward(outputs);
  return collective("backward's gradient all-reduce", [&] { return ParallelStrategy::backward(loss, optimizer); });
}

torch::Tensor DDPStrategy::reduce(const torch::Tensor& tensor, const std::string& reduce_op) {
  ::c10d::AllreduceOptions options;
  bool mean = false;
  if (reduce_op == "mean" || reduce_op == "avg") {
    options.reduceOp = ::c10d::ReduceOp::SUM;
    mean = true;
  } else if (reduce_op == "sum") {
    options.reduceOp = ::c10d::ReduceOp::SUM;
  } else if (reduce_op == "max") {
    options.reduceOp = ::c10d::ReduceOp::MAX;
  } else if (reduce_op == "min") {
    options.reduceOp = ::c10d::ReduceOp::MIN;
  } else if (reduce_op == "product") {
    options.reduceOp = ::c10d::ReduceOp::PRODUCT;
  } else {
    throw MisconfigurationException(fmt::format(
        "reduce_op='{}' is invalid; accepted: 'mean' (or 'avg'), 'sum', 'max', 'min', 'product'", reduce_op));
  }
  std::vector<at::Tensor> tensors{tensor.detach().clone().contiguous()};
  collective(fmt::format("reduce('{}')", reduce_op), [&] { group().allreduce(tensors, options)->wait(); });
  return mean ? tensors[0] / static_cast<double>(world_size()) : tensors[0];
}

void DDPStrategy::barrier(const std::string& name) {
  if (!process_group().group) return;  // before the rendezvous there is nobody to wait for
  collective(name.empty() ? "barrier" : fmt::format("barrier('{}')", name), [&] { group().barrier()->wait(); });
}

torch::IValue DDPStrategy::broadcast(const torch::IValue& obj, int64_t src) {
  if (src < 0 || src >= world_size())
    throw MisconfigurationException(
        fmt::format("broadcast(src={}) is out of range; accepted: a rank from 0 to {}", src, world_size() - 1));
  std::vector<char> bytes;
  if (global_rank() == src) bytes = torch::jit::pickle_save(obj);
  ::c10d::BroadcastOptions options;
  options.rootRank = src;
  std::vector<at::Tensor> size{torch::tensor(static_cast<int64_t>(bytes.size()))};
  collective("broadcast (size)", [&] { group().broadcast(size, options)->wait(); });
  std::vector<at::Tensor> data{global_rank() == src
                                   ? torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8)
                                   : torch::empty({size[0].item<int64_t>()}, torch::kUInt8)};
  collective("broadcast", [&] { group().broadcast(data, options)->wait(); });
  if (global_rank() == src) return obj;
  const auto* begin = static_cast<const char*>(data[0].data_ptr());
  return torch::jit::pickle_load(std::vector<char>(begin, begin + data[0].numel()));
}

torch::Tensor DDPStrategy::all_gather(const torch::Tensor& tensor, bool sync_grads) {
  if (sync_grads) return AllGatherFunction::apply(tensor);
  torch::NoGradGuard no_grad;
  return AllGatherFunction::forward(nullptr, tensor);
}

void DDPStrategy::on_exception(const std::exception_ptr& error) {
  auto& pg = process_group();
  if (!pg.store) return;
  try {
    const auto message = error_message(error);
    pg.store->set(failure_key(pg.rank), std::vector<uint8_t>(message.begin(), message.end()));
  } catch (...) {
    // The store may be gone with rank 0; the others then learn of the failure from their collectives.
  }
}

}  // namespace lightning::strategies
