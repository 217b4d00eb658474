// Trainer::fit against a hand-written LibTorch loop doing the same work: MLP 32->64->10,
// batch 32, in-memory data, one intra-op thread, 2000 steps, as a ratio of time per step.
// Every variant is timed two ways: in the steady state (from batch steps/10 to the end of the
// last batch), which is what a step costs, and over the whole fit() divided by the steps; the
// difference is shown as a fixed cost per run (setup, the loggers' files, the end-of-epoch
// checkpoint, the loggers' last writes at finalize). Ratios are the median over rounds of each
// round's ratio; each round starts at another variant, so slow changes in the machine's load
// and order effects cancel out.
// A second table prices the loggers: five scalars logged every step with log_every_n_steps=1,
// sent to TensorBoard and CSV, against the same model and flags with logger=false. Besides wall
// time it shows the training thread's CPU time (what the step costs when other programs share
// the cores) and the whole process's CPU time (writer threads included). A last line prices the
// strategy's indirection alone: calls through SingleDeviceStrategy against the same module calls
// made directly.
//
//   ./build/bench/trainer_overhead [steps] [rounds]
#include "stats.h"

#include <lightning/lightning.h>
#include <lightning/loggers/loggers.h>

#include <ftw.h>
#include <time.h>
#include <unistd.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <new>

// Counts C++ heap allocations (LibTorch's tensors, std containers, std::function), so the
// table can show what the Trainer allocates per step beyond the hand-written loop.
static std::atomic<uint64_t> g_allocations{0};
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace L = lightning;
using Clock = std::chrono::steady_clock;

namespace {

torch::nn::Sequential make_mlp() {
  return torch::nn::Sequential(torch::nn::Linear(32, 64), torch::nn::ReLU(), torch::nn::Linear(64, 10));
}

struct Mlp : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  bool log_every_step;
  bool five_scalars = false;
  explicit Mlp(bool log) : log_every_step(log) {
    net = register_module("net", make_mlp());
    example_input_array = torch::zeros({1, 32});
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t batch_idx) override {
    auto loss = torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
    if (log_every_step) log("train_loss", loss, {.prog_bar = true});
    if (five_scalars) {
      auto d = loss.detach();
      log("loss", d);
      log("loss_x2", d * 2);
      log("loss_half", d * 0.5);
      log("lr", 0.01);
      log("batch_idx", static_cast<double>(batch_idx));
    }
    return loss;
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
};

/// A scratch folder for the loggers' files, removed at exit.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    char pattern[] = "/tmp/trainer_overhead-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~ScratchDir() {
    ::nftw(path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 16,
           FTW_DEPTH | FTW_PHYS);
  }
};

enum class LoggerCase { None, TensorBoardAndCSV };

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Wall, training-thread CPU and process CPU seconds.
struct Times {
  double wall, thread_cpu, process_cpu;
  static Times now() {
    return {std::chrono::duration<double>(Clock::now().time_since_epoch()).count(),
            cpu_seconds(CLOCK_THREAD_CPUTIME_ID), cpu_seconds(CLOCK_PROCESS_CPUTIME_ID)};
  }
  Times operator-(const Times& o) const { return {wall - o.wall, thread_cpu - o.thread_cpu, process_cpu - o.process_cpu}; }
  Times operator*(double k) const { return {wall * k, thread_cpu * k, process_cpu * k}; }
};

/// One timed run: seconds per step in the steady state (from the start of batch steps/10 to the
/// end of the last batch), the whole run per step, and the rest of the run (setup, the first
/// files, the end-of-epoch checkpoint, the loggers' last writes) as a fixed cost.
struct Run {
  Times per_step, whole_per_step, fixed;
  double allocations_per_step;
};

/// The steady-state window, read by each variant the same way.
struct Window {
  int64_t first, last;
  Times start{}, end{};
  explicit Window(int64_t steps) : first(steps / 10), last(steps - 1) {}
  void on_start(int64_t step) {
    if (step == first) start = Times::now();
  }
  void on_end(int64_t step) {
    if (step == last) end = Times::now();
  }
  Run result(const Times& whole, uint64_t allocations) const {
    const double steps = static_cast<double>(last + 1), n = static_cast<double>(last + 1 - first);
    const Times per_step = (end - start) * (1.0 / n);
    return {per_step, whole * (1.0 / steps), whole - per_step * steps, static_cast<double>(allocations) / steps};
  }
};

struct WindowCallback : L::Callback {
  Window& window;
  explicit WindowCallback(Window& w) : window(w) {}
  void on_train_batch_start(L::Trainer&, L::LightningModule&, const L::Batch&, int64_t batch_idx) override {
    window.on_start(batch_idx);
  }
  void on_train_batch_end(L::Trainer&, L::LightningModule&, const L::StepOutput&, const L::Batch&,
                          int64_t batch_idx) override {
    window.on_end(batch_idx);
  }
};

/// Times `run()` as a whole and in its steady-state window; counts its allocations.
template <typename F>
Run timed(Window& window, F&& run) {
  const uint64_t allocations = g_allocations.load();
  const Times before = Times::now();
  run();
  const Times whole = Times::now() - before;
  return window.result(whole, g_allocations.load() - allocations);
}

Run hand_written(const torch::Tensor& x, const torch::Tensor& y, int64_t steps) {
  torch::manual_seed(0);
  auto net = make_mlp();
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
  Window window(steps);
  return timed(window, [&] {
    for (int64_t i = 0; i < steps; ++i) {
      window.on_start(i);
      auto xb = x.narrow(0, i * 32, 32), yb = y.narrow(0, i * 32, 32);
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(net->forward(xb), yb);
      loss.backward();
      opt.step();
      window.on_end(i);
    }
  });
}

/// Trainer::fit on the same work, one epoch. The clock starts after the model, loader and
/// Trainer are built; it includes finalize (the loggers' last writes are waited for).
Run with_trainer(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, std::shared_ptr<Mlp> model,
                 L::TrainerOptions options) {
  torch::manual_seed(0);
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 32});
  options.accelerator = "cpu";  // as the hand loop: "auto" would time a GPU against it
  options.max_epochs = 1;
  options.limit_val_batches = 0;
  options.num_sanity_val_steps = 0;
  Window window(steps);
  options.callbacks.push_back(std::make_shared<WindowCallback>(window));
  L::Trainer trainer(options);
  return timed(window, [&] { trainer.fit(model, loader); });
}

/// What a user has by default (TensorBoard logger, checkpointing, summary), `log` every step,
/// the bar writing to a file.
Run defaults(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, std::ostream& sink,
             const std::string& root) {
  L::TrainerOptions options{.callbacks = {std::make_shared<L::TQDMProgressBar>(1, &sink)}, .default_root_dir = root};
  return with_trainer(x, y, steps, std::make_shared<Mlp>(true), options);
}

/// Bar, summary, logging and checkpointing off.
Run bare(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, const std::string& root) {
  L::TrainerOptions options{.logger = false, .enable_checkpointing = false, .enable_progress_bar = false,
                            .enable_model_summary = false, .default_root_dir = root};
  return with_trainer(x, y, steps, std::make_shared<Mlp>(false), options);
}

/// As `bare`, with the SimpleProfiler timing every hook (what profiling costs; no target).
Run profiled(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, const std::string& root) {
  L::TrainerOptions options{.logger = false, .enable_checkpointing = false, .enable_progress_bar = false,
                            .enable_model_summary = false, .profiler = "simple", .default_root_dir = root};
  return with_trainer(x, y, steps, std::make_shared<Mlp>(false), options);
}

/// Five scalars logged every step (log_every_n_steps=1) to TensorBoard and CSV, or with
/// logger=false; bar, summary and checkpointing off.
Run with_loggers(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, LoggerCase loggers,
                 const std::string& root) {
  auto model = std::make_shared<Mlp>(false);
  model->five_scalars = true;
  L::TrainerOptions options{.log_every_n_steps = 1, .enable_checkpointing = false, .enable_progress_bar = false,
                            .enable_model_summary = false, .default_root_dir = root};
  if (loggers == LoggerCase::None)
    options.logger = false;
  else
    options.logger = std::vector<std::shared_ptr<L::Logger>>{std::make_shared<L::loggers::TensorBoardLogger>(root),
                                                             std::make_shared<L::loggers::CSVLogger>(root)};
  return with_trainer(x, y, steps, model, options);
}

/// The strategy's share of a step: the batch's transfer, `training_step` and `backward` through
/// the SingleDeviceStrategy (virtual calls, the precision plugin's input conversion and autocast
/// scope), against the same module calls made directly, on a module whose steps do nothing so
/// that only the indirection is timed. Nanoseconds per step, median of `rounds`.
struct Noop : L::LightningModule {
  torch::Tensor loss = torch::zeros({});
  L::StepOutput training_step(const L::Batch&, int64_t) override { return loss; }
  void backward(const torch::Tensor&) override {}
};

std::pair<double, double> strategy_indirection_ns(const torch::Tensor& x, const torch::Tensor& y, int rounds) {
  auto model = std::make_shared<Noop>();
  L::strategies::SingleDeviceStrategy strategy(torch::Device(torch::kCPU),
                                               std::make_shared<L::accelerators::CPUAccelerator>());
  strategy.connect(*model);
  const L::Batch batch{x.narrow(0, 0, 32), y.narrow(0, 0, 32)};
  const torch::Device cpu(torch::kCPU);
  constexpr int64_t kCalls = 200000;
  auto per_call = [&](auto&& step) {
    const auto start = Clock::now();
    for (int64_t i = 0; i < kCalls; ++i) step(i);
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(kCalls);
  };
  std::vector<double> direct, through;
  for (int r = 0; r < rounds; ++r) {
    direct.push_back(per_call([&](int64_t i) {
      auto b = model->on_before_batch_transfer(batch, 0);
      b = model->transfer_batch_to_device(std::move(b), cpu, 0);
      b = model->on_after_batch_transfer(std::move(b), 0);
      auto out = model->training_step(b, i);
      model->backward(out.loss);
    }));
    through.push_back(per_call([&](int64_t i) {
      auto b = strategy.batch_to_device(batch, 0);
      auto out = strategy.training_step(b, i);
      strategy.backward(out.loss, nullptr);
    }));
  }
  return {bench::median(direct), bench::median(through)};
}

}  // namespace

using bench::median;

/// The median over rounds of `field` of each round's run.
double median_of(const std::vector<Run>& runs, Times Run::*part, double Times::*field) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(r.*part.*field);
  return median(v);
}

/// The median over rounds of the per-round ratio (variants of a round run back to back, so slow
/// changes in the machine's load cancel out).
double paired_ratio(const std::vector<Run>& runs, const std::vector<Run>& baseline, Times Run::*part,
                    double Times::*field) {
  std::vector<double> v;
  for (size_t i = 0; i < runs.size(); ++i) v.push_back(runs[i].*part.*field / (baseline[i].*part.*field));
  return median(v);
}

int main(int argc, char** argv) {
  const int64_t steps = argc > 1 ? std::stoll(argv[1]) : 2000;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 7;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  auto x = torch::randn({steps * 32, 32});
  auto y = torch::randint(0, 10, {steps * 32});
  std::ofstream sink("/dev/null");
  // The model summary goes to stdout; keep the table below readable.
  std::streambuf* stdout_buf = std::cout.rdbuf(sink.rdbuf());
  std::streambuf* stderr_buf = std::cerr.rdbuf(sink.rdbuf());

  ScratchDir scratch;
  hand_written(x, y, steps / 4);  // warm-up (allocator, BLAS)
  std::vector<Run> hand, user_defaults, bare_trainer, simple_profiler, none, both;
  const std::vector<std::function<void()>> variants = {
      [&] { hand.push_back(hand_written(x, y, steps)); },
      [&] { user_defaults.push_back(defaults(x, y, steps, sink, scratch.path)); },
      [&] { bare_trainer.push_back(bare(x, y, steps, scratch.path)); },
      [&] { simple_profiler.push_back(profiled(x, y, steps, scratch.path)); },
      [&] { none.push_back(with_loggers(x, y, steps, LoggerCase::None, scratch.path)); },
      [&] { both.push_back(with_loggers(x, y, steps, LoggerCase::TensorBoardAndCSV, scratch.path)); }};
  // Each round starts at another variant, so that none of them always runs first (or after the
  // same neighbour) in a round.
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < variants.size(); ++i) variants[(i + static_cast<size_t>(r)) % variants.size()]();
  std::cout.rdbuf(stdout_buf);
  std::cerr.rdbuf(stderr_buf);

  const auto steady = &Run::per_step, whole = &Run::whole_per_step, fixed = &Run::fixed;
  const auto wall = &Times::wall, thread = &Times::thread_cpu, process = &Times::process_cpu;
  std::cout << fmt::format("trainer_overhead: MLP 32-64-10, batch 32, {} steps, 1 thread, median of {} rounds\n"
                           "steady state: batches {}..{}; whole run: fit() / steps; fixed: what the run costs beyond "
                           "its steps at the steady rate (setup, files, the end-of-epoch checkpoint)\n",
                           steps, rounds, steps / 10, steps - 1)
            << fmt::format("{:<48} {:>8} {:>7} {:>8} {:>7} {:>9} {:>8}\n", "variant", "steady", "ratio", "whole",
                           "ratio", "fixed ms", "allocs");
  auto row = [&](const char* name, const std::vector<Run>& runs, const char* target) {
    std::cout << fmt::format("{:<48} {:>8.4f} {:>7.3f} {:>8.4f} {:>7.3f} {:>9.2f} {:>8.1f}{}\n", name,
                             median_of(runs, steady, wall) * 1e3, paired_ratio(runs, hand, steady, wall),
                             median_of(runs, whole, wall) * 1e3, paired_ratio(runs, hand, whole, wall),
                             median_of(runs, fixed, wall) * 1e3, runs.back().allocations_per_step, target);
  };
  row("hand-written LibTorch loop (ms/step)", hand, "");
  row("Trainer defaults (bar to a file, log every step)", user_defaults, "  (target <= 1.05)");
  row("Trainer, bar/summary/logging/checkpointing off", bare_trainer, "  (target <= 1.02)");
  row("as above, profiler=\"simple\"", simple_profiler, "  (what profiling costs)");

  auto cell = [&](double Times::*field) {
    return fmt::format("{:>9.4f} {:>6.3f}", median_of(both, steady, field) * 1e3,
                       paired_ratio(both, none, steady, field));
  };
  std::cout << "\nloggers: 5 scalars logged every step, log_every_n_steps=1, bar/summary/checkpointing off; steady "
               "state, ratio to logger=false\n"
            << fmt::format("{:<30} {:>16} {:>16} {:>16}\n", "ms/step, ratio", "wall", "train thread CPU", "process CPU")
            << fmt::format("{:<30} {:>9.4f} {:>6.3f} {:>9.4f} {:>6.3f} {:>9.4f} {:>6.3f}\n", "logger=false",
                           median_of(none, steady, wall) * 1e3, 1.0, median_of(none, steady, thread) * 1e3, 1.0,
                           median_of(none, steady, process) * 1e3, 1.0)
            << fmt::format("{:<30} {} {} {}  (target <= 1.03)\n", "TensorBoardLogger + CSVLogger", cell(wall),
                           cell(thread), cell(process))
            << fmt::format("fixed cost per run, wall ms: logger=false {:.2f}, TensorBoard + CSV {:.2f}\n",
                           median_of(none, fixed, wall) * 1e3, median_of(both, fixed, wall) * 1e3);
  const auto [direct, through] = strategy_indirection_ns(x, y, rounds);
  std::cout << fmt::format(
      "\nstrategy indirection: batch transfer + training_step + backward of a module whose steps do nothing\n"
      "module called directly {:.1f} ns/step, through the strategy {:.1f} ns/step: {:+.1f} ns, {:.3f}% of the "
      "hand loop's step\n",
      direct, through, through - direct, 100.0 * (through - direct) / (median_of(hand, steady, wall) * 1e9));
  return 0;
}
