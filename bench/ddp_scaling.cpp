// DDP on this machine's cores: samples/s of 2 processes (one intra-op thread each) against 1 on
// the main job's Fashion-MNIST CNN, the share of the gradients' all-reduce that backward hides,
// and what DDP adds to each step of a tiny model.
//
//   ./build/bench/ddp_scaling [steps=60]
//
// The driver runs the one-process figures itself and each DDP case as a fresh run of this
// program (`--role`), whose `strategy="ddp"` launcher then starts the second rank.
#include <lightning/lightning.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/functional.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/sgd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "stats.h"

namespace L = lightning;
using Clock = std::chrono::steady_clock;

namespace {

torch::nn::Sequential cnn() {
  using namespace torch::nn;
  return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2), Flatten(),
                    Linear(64 * 7 * 7, 128), ReLU(), Linear(128, 10));
}

torch::nn::Sequential tiny() {
  using namespace torch::nn;
  return Sequential(Linear(32, 64), ReLU(), Linear(64, 10));
}

struct Model : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  explicit Model(torch::nn::Sequential n) { net = register_module("net", std::move(n)); }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
};

/// Times the steps after the warm-up ones, and each backward, apart for the batches that
/// synchronise gradients and those that do not (accumulation micro-steps).
struct StepTimer : L::Callback {
  int64_t warmup;
  Clock::time_point start, backward_start;
  double seconds = 0;
  int64_t timed_batches = 0, current = 0;
  std::vector<double> synced_backward, local_backward;
  explicit StepTimer(int64_t w) : warmup(w) {}
  void on_train_batch_start(L::Trainer&, L::LightningModule&, const L::Batch&, int64_t batch_idx) override {
    current = batch_idx;
    if (batch_idx == warmup) start = Clock::now();
  }
  void on_train_batch_end(L::Trainer&, L::LightningModule&, const L::StepOutput&, const L::Batch&,
                          int64_t batch_idx) override {
    if (batch_idx >= warmup) {
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      timed_batches = batch_idx - warmup + 1;
    }
  }
  void on_before_backward(L::Trainer&, L::LightningModule&, const torch::Tensor&) override {
    backward_start = Clock::now();
  }
  void on_after_backward(L::Trainer&, L::LightningModule&) override {
    const double s = std::chrono::duration<double>(Clock::now() - backward_start).count();
    // With accumulate_grad_batches=2, odd batches step (and synchronise), even ones do not.
    (current % 2 == 1 ? synced_backward : local_backward).push_back(s);
  }
};

std::shared_ptr<L::TensorDataset> fashion(int64_t samples) {
  L::FashionMNIST full(L::FashionMNIST::kDefaultRoot, /*train=*/true);
  return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{
      ((full.images() - 0.2860) / 0.3530).narrow(0, 0, samples), full.labels().narrow(0, 0, samples)});
}

std::shared_ptr<L::TensorDataset> random_data(int64_t samples) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(0);
  return std::make_shared<L::TensorDataset>(
      std::vector<torch::Tensor>{torch::randn({samples, 32}, g), torch::randint(0, 10, {samples}, g)});
}

struct Run {
  double samples_per_s = 0, step_us = 0, synced_backward_ms = 0, local_backward_ms = 0, allreduce_ms = 0;
  int64_t world = 1;
};

/// One fit of `steps` batches per process; DDP when `devices` > 1.
Run fit(bool use_cnn, int devices, int64_t steps, int64_t batch, int64_t accumulate) {
  L::seed_everything(0);
  auto model = std::make_shared<Model>(use_cnn ? cnn() : tiny());
  const int64_t per_process = steps * batch;
  auto data = use_cnn ? fashion(per_process * devices) : random_data(per_process * devices);
  auto timer = std::make_shared<StepTimer>(std::min<int64_t>(10, steps / 4));
  L::Trainer trainer({.accelerator = "cpu",
                      .strategy = devices > 1 ? "ddp" : "auto",
                      .devices = devices,
                      .logger = false,
                      .callbacks = {timer},
                      .max_epochs = 1,
                      .enable_checkpointing = false,
                      .enable_progress_bar = false,
                      .enable_model_summary = false,
                      .accumulate_grad_batches = accumulate});
  trainer.fit(model, L::DataLoader(data, {.batch_size = batch}));
  Run run;
  run.world = trainer.world_size();
  run.samples_per_s = static_cast<double>(timer->timed_batches * batch * run.world) / timer->seconds;
  run.step_us = timer->seconds / static_cast<double>(timer->timed_batches) * 1e6;
  if (!timer->synced_backward.empty()) run.synced_backward_ms = bench::median(timer->synced_backward) * 1e3;
  if (!timer->local_backward.empty()) run.local_backward_ms = bench::median(timer->local_backward) * 1e3;
  if (run.world > 1) {
    // The same bytes as the gradients, all-reduced alone (nothing to hide behind).
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    auto flat = torch::ones({n});
    std::vector<double> times;
    for (int i = 0; i < 20; ++i) {
      const auto t0 = Clock::now();
      trainer.strategy().reduce(flat, "sum");
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    run.allreduce_ms = bench::median(times) * 1e3;
  }
  return run;
}

std::string result_line(const Run& r) {
  return fmt::format("{} {} {} {} {}", r.samples_per_s, r.step_us, r.synced_backward_ms, r.local_backward_ms,
                     r.allreduce_ms);
}

/// This program again with `--role role`, in a clean environment, `copies` at once: the result
/// line of each.
std::vector<Run> run_role(const std::string& role, int64_t steps, int copies = 1) {
  std::string command = "(";
  for (int i = 0; i < copies; ++i)
    command += fmt::format(
        "env -u LOCAL_RANK -u MASTER_PORT -u WORLD_SIZE -u NODE_RANK OMP_NUM_THREADS=1 /proc/{}/exe --role {} {} "
        "/tmp/ddp_scaling_{}_{}_{}.txt & ",
        ::getpid(), role, steps, role, ::getpid(), i);
  command += "wait) > /dev/null 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("a run failed: " + command);
  std::vector<Run> runs(copies);
  for (int i = 0; i < copies; ++i) {
    const auto out = fmt::format("/tmp/ddp_scaling_{}_{}_{}.txt", role, ::getpid(), i);
    std::ifstream in(out);
    auto& r = runs[i];
    if (!(in >> r.samples_per_s >> r.step_us >> r.synced_backward_ms >> r.local_backward_ms >> r.allreduce_ms))
      throw std::runtime_error("no result from " + role);
    std::remove(out.c_str());
  }
  return runs;
}

/// PyTorch's own DDP on the same model and batch (bench/python/ddp_baseline.py), microseconds per
/// step; 0 when Debian's python3-torch is missing.
double python_step_us(const std::string& kind, int processes, int64_t steps) {
  const std::string out = fmt::format("/tmp/ddp_scaling_py_{}.txt", ::getpid());
  const std::string command = fmt::format(
      "env -u LOCAL_RANK -u MASTER_PORT -u WORLD_SIZE -u RANK OMP_NUM_THREADS=1 /usr/bin/python3 "
      "{}/bench/python/ddp_baseline.py {} {} {} {} {} > /dev/null 2>&1",
      LIGHTNING_SOURCE_DIR, kind, processes, steps, 29000 + ::getpid() % 1000, out);
  double us = 0;
  if (std::system(command.c_str()) == 0) std::ifstream(out) >> us;
  std::remove(out.c_str());
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  if (argc >= 5 && std::string(argv[1]) == "--role") {
    // A run in a process of its own; rank 0 writes the result line. "cnn": DDP, every step
    // synchronises; "cnn-accumulate": every other one (backward with and without the all-reduce,
    // in one run); "alone": one process without DDP (the driver starts two at once: the machine's
    // own scaling); "tiny": DDP on the tiny model.
    const std::string role = argv[2];
    const int64_t steps = std::stoll(argv[3]);
    const auto r = role == "tiny"    ? fit(false, 2, steps * 10, 32, 1)
                   : role == "alone" ? fit(true, 1, steps, 64, 1)
                                     : fit(true, 2, steps, 64, role == "cnn" ? 1 : 2);
    if (L::rank_zero_only_rank() == 0) std::ofstream(argv[4]) << result_line(r);
    return 0;
  }
  const int64_t steps = argc > 1 ? std::stoll(argv[1]) : 60;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  std::cout << fmt::format(
      "ddp_scaling: Fashion-MNIST CNN, batch 64 per process, {} steps, {} rounds (medians); 1 intra-op thread per "
      "process; Gloo over loopback\n",
      steps, rounds);
  // Rounds interleave every case, so that the machine's noise falls on all of them alike.
  std::vector<double> single, ddp, alone, single_backward, synced, local, allreduce, tiny1, tiny2, py_ratio, py_ddp, py_tiny;
  for (int round = 0; round < rounds; ++round) {
    const auto one = fit(true, 1, steps, 64, 1);
    single.push_back(one.samples_per_s);
    single_backward.push_back(one.synced_backward_ms);
    ddp.push_back(run_role("cnn", steps).front().samples_per_s);
    const auto split = run_role("cnn-accumulate", steps).front();
    synced.push_back(split.synced_backward_ms);
    local.push_back(split.local_backward_ms);
    allreduce.push_back(split.allreduce_ms);
    const auto two = run_role("alone", steps, 2);
    alone.push_back(two[0].samples_per_s + two[1].samples_per_s);
    tiny1.push_back(fit(false, 1, steps * 10, 32, 1).step_us);
    tiny2.push_back(run_role("tiny", steps).front().step_us);
    const double py1 = python_step_us("cnn", 1, steps), py2 = python_step_us("cnn", 2, steps);
    if (py1 > 0 && py2 > 0) {
      py_ratio.push_back(2 * py1 / py2);
      py_ddp.push_back(2 * 64 / (py2 * 1e-6));
    }
    if (const double t = python_step_us("tiny", 2, steps * 10); t > 0) py_tiny.push_back(t);
  }
  const double ratio = bench::median(ddp) / bench::median(single);
  std::cout << fmt::format("  1 process  : {:8.1f} samples/s\n", bench::median(single));
  std::cout << fmt::format("  2 processes: {:8.1f} samples/s   ratio {:.2f}x (target >= 1.7x)\n", bench::median(ddp),
                           ratio);
  std::cout << fmt::format(
      "  2 independent processes at once, no DDP: {:8.1f} samples/s together, ratio {:.2f}x (what the machine "
      "allows)\n",
      bench::median(alone), bench::median(alone) / bench::median(single));
  if (!py_ratio.empty())
    std::cout << fmt::format(
        "  PyTorch's own DDP (python3-torch, a bare loop), same model and batch: 2 processes {:8.1f} samples/s, "
        "ratio {:.2f}x over its 1 process; ours/PyTorch's 2-process samples/s: {:.2f}x\n",
        bench::median(py_ddp), bench::median(py_ratio), bench::median(ddp) / bench::median(py_ddp));
  // Backward with the reducer's all-reduce against backward without it (accumulation micro-steps
  // of the same run), and the all-reduce of the same bytes alone.
  const double exposed = std::max(0.0, bench::median(synced) - bench::median(local));
  const double hidden = std::clamp(1.0 - exposed / bench::median(allreduce), 0.0, 1.0);
  std::cout << fmt::format(
      "  backward: {:.2f} ms in 1 process; under DDP {:.2f} ms synchronised, {:.2f} ms local; all-reduce of the "
      "gradients alone {:.2f} ms; hidden behind backward: {:.0f}%\n",
      bench::median(single_backward), bench::median(synced), bench::median(local), bench::median(allreduce),
      hidden * 100);
  std::cout << fmt::format(
      "  tiny MLP 32-64-10, batch 32: {:.1f} us/step in 1 process, {:.1f} us/step in 2 (DDP adds {:.1f} us/step){}\n",
      bench::median(tiny1), bench::median(tiny2), bench::median(tiny2) - bench::median(tiny1),
      py_tiny.empty() ? "" : fmt::format("; PyTorch's own DDP: {:.1f} us/step", bench::median(py_tiny)));
  return 0;
}
