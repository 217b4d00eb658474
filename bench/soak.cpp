// Soak: a long fit of a tiny model with everything a long run does periodically, to show that
// the process does not grow. MLP 32->64->10, batch 32, shuffled in-memory data of 1,250
// batches per epoch; `log` every step (train_loss on step and epoch) to TensorBoard and CSV
// (log_every_n_steps=1), val_loss logged in a validation of 32 batches every 2,000 steps across
// epochs, a ModelCheckpoint every 1,000 steps with last.ckpt and a top 3 (ranked by step, so
// that every save also deletes the oldest file), progress bar and summary off, all files in a
// temporary folder removed at the end.
// A callback samples resident memory (/proc/self/statm), threads (/proc/self/status) and open
// file descriptors (/proc/self/fd) every 100 steps, at steps 50 past a multiple of 100: never
// while a checkpoint or a validation runs (checkpoints are written synchronously at multiples of
// 1,000). Targets after the warm-up (which includes the first checkpoints and validations):
// resident memory grows by less than 5 MB, and the thread and descriptor counts do not change.
// Exits 1 when a target is missed.
//
//   ./build/bench/soak [--steps N (200000)] [--warmup N (20000, at most steps/2)] [--threads N (1)]
#include <lightning/lightning.h>
#include <lightning/loggers/loggers.h>

#include <dirent.h>
#include <unistd.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace L = lightning;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kBatch = 32, kTrainBatches = 1250, kValBatches = 32;
constexpr int64_t kCheckpointEvery = 1000, kValidateEvery = 2000, kSampleEvery = 100;

struct Mlp : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  Mlp() {
    save_hyperparameters({{"lr", 0.01}});
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(32, 64), torch::nn::ReLU(),
                                                       torch::nn::Linear(64, 10)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
    log("train_loss", loss, {.on_step = true, .on_epoch = true});
    return loss;
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
    log("val_loss", loss);
    return loss;
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
};

/// What the process holds at one step.
struct Sample {
  int64_t step;
  double rss_mb;  // 10^6 bytes
  int64_t threads, fds;
  double seconds;  // since the sampler was built
};

double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1e6;
}

int64_t thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoll(line.substr(8));
  return -1;
}

int64_t fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int64_t n = 0;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the descriptor of the listing itself
}

struct Sampler : L::Callback {
  std::vector<Sample> samples;
  int64_t validations = 0;  // sanity check excluded
  Clock::time_point start = Clock::now();
  Sample now(int64_t step) const {
    return {step, resident_mb(), thread_count(), fd_count(),
            std::chrono::duration<double>(Clock::now() - start).count()};
  }
  void on_train_batch_end(L::Trainer& trainer, L::LightningModule&, const L::StepOutput&, const L::Batch&,
                          int64_t) override {
    const int64_t step = trainer.global_step();
    if (step % kSampleEvery == kSampleEvery / 2) samples.push_back(now(step));
  }
  void on_validation_end(L::Trainer& trainer, L::LightningModule&) override {
    validations += !trainer.sanity_checking();
  }
};

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/soak-XXXXXX";
    path = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

int64_t flag_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", argv[i]));
  const std::string value = argv[++i];
  size_t used = 0;
  const int64_t n = std::stoll(value, &used);
  if (used != value.size() || n < 1)
    throw std::invalid_argument(fmt::format("{} {}: expected an int >= 1", argv[i - 1], value));
  return n;
}

/// Kilobytes per 10,000 steps: the least-squares slope of resident memory over the samples.
double slope_kb_per_10k(const std::vector<Sample>& s) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& x : s) {
    const double step = static_cast<double>(x.step);
    n += 1, sx += step, sy += x.rss_mb, sxx += step * step, sxy += step * x.rss_mb;
  }
  const double denominator = n * sxx - sx * sx;
  return denominator > 0 ? (n * sxy - sx * sy) / denominator * 1e3 * 1e4 : 0.0;
}

}  // namespace

int main(int argc, char** argv) try {
  int64_t steps = 200000, warmup = 20000, threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--steps")
      steps = flag_value(argc, argv, i);
    else if (flag == "--warmup")
      warmup = flag_value(argc, argv, i);
    else if (flag == "--threads")
      threads = flag_value(argc, argv, i);
    else
      throw std::invalid_argument(fmt::format("unknown argument '{}'; accepted: --steps N, --warmup N, --threads N",
                                              flag));
  }
  warmup = std::min(warmup, steps / 2);
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(0);

  ScratchDir scratch;
  const std::string root = scratch.path.string();
  auto dataset = [](int64_t batches) {
    return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{
        torch::randn({batches * kBatch, 32}), torch::randint(0, 10, {batches * kBatch})});
  };
  L::DataLoader train(dataset(kTrainBatches), {.batch_size = kBatch, .shuffle = true});
  L::DataLoader val(dataset(kValBatches), {.batch_size = kBatch});

  auto sampler = std::make_shared<Sampler>();
  sampler->samples.reserve(static_cast<size_t>(steps / kSampleEvery + 1));  // the bench's own memory stays flat
  const Sample before = sampler->now(0);
  // The newest checkpoint ranks first by step: each save past the third deletes the oldest.
  auto checkpoint = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions{
      .monitor = "step", .save_last = true, .save_top_k = 3, .mode = "max", .every_n_train_steps = kCheckpointEvery});
  auto model = std::make_shared<Mlp>();
  std::string metrics_csv;
  const auto fit_start = Clock::now();
  {  // the loggers and the Trainer are destroyed before the last sample
    auto csv = std::make_shared<L::loggers::CSVLogger>(root);
    L::TrainerOptions options{
        .accelerator = "cpu",
        .logger = std::vector<std::shared_ptr<L::Logger>>{std::make_shared<L::loggers::TensorBoardLogger>(root), csv},
        .callbacks = {sampler, checkpoint},
        .max_steps = steps,
        .val_check_interval = kValidateEvery,
        .check_val_every_n_epoch = std::nullopt,  // every 2,000 batches across epochs
        .log_every_n_steps = 1,
        .enable_progress_bar = false,
        .enable_model_summary = false,
        .default_root_dir = root};
    L::Trainer trainer(options);
    trainer.fit(model, train, val);
    metrics_csv = csv->metrics_file_path();
  }
  const double fit_seconds = std::chrono::duration<double>(Clock::now() - fit_start).count();
  const Sample after = sampler->now(steps);

  int64_t csv_rows = -1;  // the header is not a row
  std::ifstream metrics(metrics_csv);
  for (std::string line; std::getline(metrics, line);) ++csv_rows;
  int64_t checkpoint_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(*checkpoint->dirpath()))
    checkpoint_files += entry.path().extension() == ".ckpt";

  const auto& all = sampler->samples;
  const auto first = std::find_if(all.begin(), all.end(), [&](const Sample& s) { return s.step >= warmup; });
  if (first == all.end() || first + 1 == all.end())
    throw std::invalid_argument(fmt::format("--steps {} leaves no samples after the warm-up", steps));
  const std::vector<Sample> steady(first, all.end());
  const Sample &start = steady.front(), &end = steady.back();
  auto min_max = [&](int64_t Sample::*field) {
    const auto [lo, hi] = std::minmax_element(steady.begin(), steady.end(),
                                              [&](const Sample& a, const Sample& b) { return a.*field < b.*field; });
    return std::pair{(*lo).*field, (*hi).*field};
  };
  const auto [threads_min, threads_max] = min_max(&Sample::threads);
  const auto [fds_min, fds_max] = min_max(&Sample::fds);
  double rss_max = 0;
  for (const auto& s : all) rss_max = std::max(rss_max, s.rss_mb);
  const double growth = end.rss_mb - start.rss_mb;
  const double steps_per_s = static_cast<double>(end.step - start.step) / (end.seconds - start.seconds);

  fmt::print("soak: MLP 32-64-10, batch 32, {} steps ({} per epoch), {} intra-op thread(s); log every step to "
             "TensorBoard + CSV, checkpoint every {} (top 3 + last), validation every {}; sampled every {} steps, "
             "warm-up {} steps\n",
             steps, kTrainBatches, threads, kCheckpointEvery, kValidateEvery, kSampleEvery, warmup);
  fmt::print("{:<34} {:>10} {:>8} {:>6}\n", "", "RSS MB", "threads", "fds");
  auto row = [](const std::string& name, const Sample& s) {
    fmt::print("{:<34} {:>10.1f} {:>8} {:>6}\n", name, s.rss_mb, s.threads, s.fds);
  };
  row("before fit", before);
  row(fmt::format("warm-up end (step {})", start.step), start);
  row(fmt::format("last sample (step {})", end.step), end);
  row("after fit (Trainer destroyed)", after);
  fmt::print("RSS after warm-up: growth {:+.2f} MB (target < 5), slope {:+.1f} kB per 10,000 steps, max over the run "
             "{:.1f} MB\n",
             growth, slope_kb_per_10k(steady), rss_max);
  fmt::print("after warm-up: threads {}..{}, fds {}..{} ({} samples; target: constant)\n", threads_min, threads_max,
             fds_min, fds_max, steady.size());
  fmt::print("{:.0f} steps/s after warm-up, {:.0f} steps/s over the whole fit ({:.1f} s); {} checkpoint files left "
             "after {} saves\n",
             steps_per_s, static_cast<double>(steps) / fit_seconds, fit_seconds, checkpoint_files,
             steps / kCheckpointEvery);
  fmt::print("{} validations, {} rows in metrics.csv\n", sampler->validations, csv_rows);
  const bool pass = growth < 5.0 && threads_min == threads_max && fds_min == fds_max;
  fmt::print("{}\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "soak: " << e.what() << std::endl;
  return 2;
}
