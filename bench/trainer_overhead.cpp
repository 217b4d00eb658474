// Trainer::fit against a hand-written LibTorch loop doing the same work: MLP 32->64->10,
// batch 32, in-memory data, one intra-op thread, 2000 steps. Prints time per step and the
// ratio to the hand-written loop, measured in the same run (rounds alternate to share noise).
//
//   ./build/bench/trainer_overhead [steps] [rounds]
#include <lightning/lightning.h>

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
  explicit Mlp(bool log) : log_every_step(log) {
    net = register_module("net", make_mlp());
    example_input_array = torch::zeros({1, 32});
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
    if (log_every_step) log("train_loss", loss, {.prog_bar = true});
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

double with_trainer(const torch::Tensor& x, const torch::Tensor& y, int64_t steps, bool defaults,
                    std::ostream& sink) {
  torch::manual_seed(0);
  auto model = std::make_shared<Mlp>(defaults);
  L::DataLoader loader(std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y}), {.batch_size = 32});
  L::TrainerOptions options{.max_epochs = 1, .limit_val_batches = 0, .num_sanity_val_steps = 0};
  if (defaults) {
    // What a user has by default, with the bar writing to a file (not a terminal).
    options.callbacks = {std::make_shared<L::TQDMProgressBar>(1, &sink)};
  } else {
    options.enable_progress_bar = false;
    options.enable_model_summary = false;
    options.logger = false;
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

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

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

  hand_written(x, y, steps / 4);  // warm-up (allocator, BLAS)
  std::vector<double> hand, defaults, bare;
  double hand_allocs = 0, defaults_allocs = 0, bare_allocs = 0;
  for (int r = 0; r < rounds; ++r) {
    auto mh = measure([&] { return hand_written(x, y, steps); }, steps);
    auto md = measure([&] { return with_trainer(x, y, steps, true, sink); }, steps);
    auto mb = measure([&] { return with_trainer(x, y, steps, false, sink); }, steps);
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
                           "Trainer, bar/summary/logging off", b * 1e3, b / h, bare_allocs);
  return 0;
}
