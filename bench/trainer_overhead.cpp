// Trainer::fit against a hand-written LibTorch loop doing the same work: MLP 32->64->10,
// batch 32, in-memory data, one intra-op thread, 2000 steps. Prints time per step and the
// ratio to the hand-written loop, measured in the same run (rounds alternate to share noise).
// A second table prices the loggers: five scalars logged every step with log_every_n_steps=1,
// sent to TensorBoard and CSV, against the same model and flags with logger=false. It times the
// steady state (after a tenth of the batches, to the end of training) as the cost per step, and
// shows the rest of each run (creating the files, the last writes at finalize) as a fixed cost
// per run. Besides wall time it shows the training thread's CPU time (what the step costs when
// other programs share the cores) and the whole process's CPU time (writer threads included).
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

double hand_written(const torch::Tensor& x, const torch::Tensor& y, int64_t steps) {
  torch::manual_seed(0);
  auto net = make_mlp();
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
  auto start = Clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    auto xb = x.narrow(0, i * 32, 32), yb = y.narrow(0, i * 32, 32);
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net->forward(xb), yb);
    loss.backward();
    opt.step();
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(steps);
}

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
  Times operator/(double n) const { return {wall / n, thread_cpu / n, process_cpu / n}; }
};

/// Clocks the steady state: from the start of batch `first` to the end of training (the last
/// rows queued, before the loggers' finalize).
struct SteadyStateClock : L::Callback {
  int64_t first;
  Times start{}, end{};
  explicit SteadyStateClock(int64_t first_batch) : first(first_batch) {}
  void on_train_batch_start(L::Trainer&, L::LightningModule&, const L::Batch&, int64_t batch_idx) override {
    if (batch_idx == first) start = Times::now();
  }
  void on_train_end(L::Trainer&, L::LightningModule&) override { end = Times::now(); }
};

/// Seconds per step in the steady state, and the rest of the run (setup, the loggers' files,
/// their last writes at finalize) as a fixed cost per run.
struct LoggerRun {
  Times per_step, fixed;
};

LoggerRun with_loggers(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, LoggerCase loggers,
                       const std::string& root) {
  torch::manual_seed(0);
  auto model = std::make_shared<Mlp>(false);
  model->five_scalars = true;
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 32});
  const int64_t warmup = steps / 10;
  auto clock = std::make_shared<SteadyStateClock>(warmup);
  L::TrainerOptions options{.callbacks = {clock}, .max_epochs = 1, .limit_val_batches = 0,
                            .num_sanity_val_steps = 0, .log_every_n_steps = 1, .enable_progress_bar = false,
                            .enable_model_summary = false, .default_root_dir = root};
  options.enable_checkpointing = false;  // the comparison is about loggers only
  if (loggers == LoggerCase::None) {
    options.logger = false;
  } else {
    options.logger = std::vector<std::shared_ptr<L::Logger>>{std::make_shared<L::loggers::TensorBoardLogger>(root),
                                                             std::make_shared<L::loggers::CSVLogger>(root)};
  }
  const Times before = Times::now();
  L::Trainer trainer(options);
  trainer.fit(model, loader);  // includes finalize: the loggers' last writes are waited for
  const Times whole = Times::now() - before;
  const double n = static_cast<double>(steps - warmup);
  const Times per_step = (clock->end - clock->start) / n;
  const Times steady = per_step / (1.0 / static_cast<double>(steps));  // all steps at the steady rate
  return {per_step, whole - steady};
}

double with_trainer(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, bool defaults,
                    std::ostream& sink, const std::string& root) {
  torch::manual_seed(0);
  auto model = std::make_shared<Mlp>(defaults);
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 32});
  L::TrainerOptions options{.max_epochs = 1, .limit_val_batches = 0, .num_sanity_val_steps = 0,
                            .default_root_dir = root};
  if (defaults) {
    // What a user has by default (TensorBoard logger included), with the bar writing to a file.
    options.callbacks = {std::make_shared<L::TQDMProgressBar>(1, &sink)};
  } else {
    options.enable_progress_bar = false;
    options.enable_model_summary = false;
    options.logger = false;
    options.enable_checkpointing = false;
  }
  L::Trainer trainer(options);
  auto start = Clock::now();
  trainer.fit(model, loader);
  return std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(steps);
}

struct Measurement {
  double seconds_per_step;
  double allocations_per_step;
};

template <typename F>
Measurement measure(F&& run, int64_t steps) {
  const uint64_t before = g_allocations.load();
  const double seconds = run();
  return {seconds, static_cast<double>(g_allocations.load() - before) / static_cast<double>(steps)};
}

}  // namespace

using bench::median;

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
  std::vector<double> hand, defaults, bare;
  std::vector<LoggerRun> none, both;
  double hand_allocs = 0, defaults_allocs = 0, bare_allocs = 0;
  for (int r = 0; r < rounds; ++r) {
    auto mh = measure([&] { return hand_written(x, y, steps); }, steps);
    auto md = measure([&] { return with_trainer(x, y, steps, true, sink, scratch.path); }, steps);
    auto mb = measure([&] { return with_trainer(x, y, steps, false, sink, scratch.path); }, steps);
    none.push_back(with_loggers(x, y, steps, LoggerCase::None, scratch.path));
    both.push_back(with_loggers(x, y, steps, LoggerCase::TensorBoardAndCSV, scratch.path));
    hand.push_back(mh.seconds_per_step);
    defaults.push_back(md.seconds_per_step);
    bare.push_back(mb.seconds_per_step);
    hand_allocs = mh.allocations_per_step, defaults_allocs = md.allocations_per_step;
    bare_allocs = mb.allocations_per_step;
  }
  std::cout.rdbuf(stdout_buf);
  std::cerr.rdbuf(stderr_buf);
  const double h = median(hand), d = median(defaults), b = median(bare);
  std::cout << fmt::format("trainer_overhead: MLP 32-64-10, batch 32, {} steps, 1 thread, median of {} rounds\n",
                           steps, rounds)
            << fmt::format("{:<50} {:>9} {:>7} {:>13}\n", "variant", "ms/step", "ratio", "allocs/step")
            << fmt::format("{:<50} {:>9.4f} {:>7.3f} {:>13.1f}\n", "hand-written LibTorch loop", h * 1e3, 1.0,
                           hand_allocs)
            << fmt::format("{:<50} {:>9.4f} {:>7.3f} {:>13.1f}  (target <= 1.05)\n",
                           "Trainer defaults (bar to a file, log every step)", d * 1e3, d / h, defaults_allocs)
            << fmt::format("{:<50} {:>9.4f} {:>7.3f} {:>13.1f}  (target <= 1.02)\n",
                           "Trainer, bar/summary/logging/checkpointing off", b * 1e3, b / h, bare_allocs);
  // Ratios per round (the two variants run back to back), then their median: slow changes in
  // the machine's load cancel out.
  auto column = [](const std::vector<LoggerRun>& runs, double Times::*field, bool fixed) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back((fixed ? r.fixed : r.per_step).*field);
    return v;
  };
  auto cell = [&](double Times::*field) {
    auto b = column(both, field, false), n = column(none, field, false);
    std::vector<double> ratio;
    for (size_t i = 0; i < b.size(); ++i) ratio.push_back(b[i] / n[i]);
    return fmt::format("{:>9.4f} {:>6.3f}", median(b) * 1e3, median(ratio));
  };
  auto fixed = [&](const std::vector<LoggerRun>& runs, double Times::*field) {
    return median(column(runs, field, true)) * 1e3;
  };
  std::cout << fmt::format("\nloggers: 5 scalars logged every step, log_every_n_steps=1, bar/summary off; steady state "
                           "(batches {}..{}), the median over rounds of the per-round ratio to logger=false\n",
                           steps / 10, steps - 1)
            << fmt::format("{:<30} {:>16} {:>16} {:>16}\n", "ms/step, ratio", "wall", "train thread CPU", "process CPU")
            << fmt::format("{:<30} {:>9.4f} {:>6.3f} {:>9.4f} {:>6.3f} {:>9.4f} {:>6.3f}\n", "logger=false",
                           median(column(none, &Times::wall, false)) * 1e3, 1.0,
                           median(column(none, &Times::thread_cpu, false)) * 1e3, 1.0,
                           median(column(none, &Times::process_cpu, false)) * 1e3, 1.0)
            << fmt::format("{:<30} {} {} {}  (target <= 1.03)\n", "TensorBoardLogger + CSVLogger", cell(&Times::wall),
                           cell(&Times::thread_cpu), cell(&Times::process_cpu))
            << fmt::format("fixed cost per run (setup, first files, last writes at finalize), wall ms: logger=false "
                           "{:.2f}, TensorBoard + CSV {:.2f}\n",
                           fixed(none, &Times::wall), fixed(both, &Times::wall));
  return 0;
}
