#pragma once
/// DDPStrategy: data-parallel training over several processes and machines, on the engine
/// Python's `DistributedDataParallel` runs on: c10d's process groups (Gloo on the CPU, NCCL on
/// CUDA where LibTorch has it), `TCPStore` rendezvous at `MASTER_ADDR:MASTER_PORT`, and c10d's
/// `Reducer`, which all-reduces gradients in buckets from autograd hooks while backward runs.
///
///     L::Trainer trainer({.accelerator = "cpu", .strategy = "ddp", .devices = 2});
///     L::Trainer trainer({.strategy = std::make_shared<L::strategies::DDPStrategy>(
///                             L::strategies::DDPStrategy::Options{.find_unused_parameters = true}),
///                         .devices = 4, .num_nodes = 2});
#include "lightning/strategies/parallel.h"

#include <chrono>
#include <optional>

namespace lightning::strategies {

class DDPStrategy : public ParallelStrategy {
 public:
  struct Options {
    std::shared_ptr<accelerators::Accelerator> accelerator = nullptr;
    std::vector<torch::Device> parallel_devices = {};
    std::shared_ptr<plugins::ClusterEnvironment> cluster_environment = nullptr;
    std::shared_ptr<plugins::CheckpointIO> checkpoint_io = nullptr;
    std::shared_ptr<plugins::Precision> precision_plugin = nullptr;
    /// "gloo" or "nccl"; unset: "nccl" on CUDA devices (where LibTorch has it), else "gloo".
    std::optional<std::string> process_group_backend = std::nullopt;
    /// How long a collective (and the rendezvous) waits for the other processes before failing
    /// (PyTorch's default process-group timeout, 30 minutes).
    std::chrono::milliseconds timeout = std::chrono::minutes(30);
    /// "popen" (`strategy="ddp"`: this process is rank 0 and runs the program again for the
    /// others) or "spawn" (`strategy="ddp_spawn"`: every rank is a new run of the program, and
    /// this process gets rank 0's results back; strategies/launcher.h).
    std::string start_method = "popen";
    // DistributedDataParallel's own arguments, with its defaults.
    bool find_unused_parameters = false;
    double bucket_cap_mb = 25;
    bool gradient_as_bucket_view = false;
    bool static_graph = false;
    bool broadcast_buffers = true;
  };

  DDPStrategy();
  explicit DDPStrategy(Options options);
  ~DDPStrategy() override;

  const Options& options() const { return options_; }
  /// "ddp", or "ddp_spawn" with start_method "spawn".
  std::string name() const override;
  /// The backend in use: the one given, else chosen from the root device.
  std::string process_group_backend() const;
  Launcher* launcher() override;

  /// Ranks, then the process group (once per process: later runs reuse it), then the device.
  void setup_environment() override;
  /// The base's setup, then the module's parameters and buffers broadcast from rank 0 and the
  /// gradient reducer built over its parameters.
  void setup(Trainer& trainer) override;
  void teardown() override;
  void model_to_device() override;

  StepOutput training_step(const Batch& batch, int64_t batch_idx) override;
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  torch::IValue predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  /// Tells the reducer to expect this backward (unless synchronisation is off), then runs it:
  /// when it returns, every process holds the average of the processes' gradients.
  torch::Tensor backward(const torch::Tensor& loss, torch::optim::Optimizer* optimizer) override;
  void set_backward_sync(bool enabled) override { backward_sync_ = enabled; }

  /// "mean" (also "avg"), "sum", "max", "min", "product"; returns a new tensor.
  torch::Tensor reduce(const torch::Tensor& tensor, const std::string& reduce_op = "mean") override;
  void barrier(const std::string& name = "") override;
  torch::IValue broadcast(const torch::IValue& obj, int64_t src = 0) override;
  /// Stacked along a new first dimension, in rank order; with `sync_grads` the gradient flows
  /// back to each process's own slice.
  torch::Tensor all_gather(const torch::Tensor& tensor, bool sync_grads = false) override;
  /// Tells the other processes (through the rendezvous store) that this rank failed, and why.
  void on_exception(const std::exception_ptr& error) override;

 private:
  struct Reducer;
  void pre_forward();
  Options options_;
  std::unique_ptr<Launcher> launcher_;
  std::unique_ptr<Reducer> reducer_;
  bool backward_sync_ = true;
  bool buffers_synced_next_forward_ = true;
};

}  // namespace lightning::strategies
