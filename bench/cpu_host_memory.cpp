// The CPU accelerator's host settings (src/accelerators/cpu_host.h) on the Fashion-MNIST CNN of
// examples/fashion_mnist.cpp: one epoch of training (batch 64, Adam) and a test pass (batch 500)
// over synthetic data of Fashion-MNIST's shapes, one intra-op thread, with glibc and OpenBLAS as
// the environment leaves them ("default") and after tune_host_allocator() and match_blas_threads()
// ("tuned"). For each it shows fit and test time; the minor page faults of each (getrusage
// ru_minflt: glibc handing large tensor buffers back to the OS every step and faulting them in
// again); the process's CPU time over wall time (above 1 with one intra-op thread means a second
// OpenBLAS thread is working or spinning); and the peak RSS (what keeping freed buffers costs).
// mallopt cannot be undone within a process, so each variant runs in a child (this program
// re-executed, bounded by a timeout) whose one-line result the table reads. A hand-written loop,
// not the Trainer, so that only the host settings differ.
//
//   ./build/bench/cpu_host_memory [train_images] [test_images]    (defaults: 60000 10000)
#include "accelerators/cpu_host.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kTrainBatch = 64, kTestBatch = 500;
// About ten times a full-size run of the slower variant on two busy cores.
constexpr std::chrono::seconds kChildTimeout{600};
const char* const kVariants[] = {"default", "tuned"};

// examples/fashion_mnist.cpp's "cnn" architecture.
torch::nn::Sequential make_cnn() {
  using namespace torch::nn;
  return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2), Flatten(),
                    Linear(64 * 7 * 7, 128), ReLU(), Dropout(0.25), Linear(128, 10));
}

struct Sample {
  Clock::time_point wall;
  double cpu_s;
  long minflt;
};

Sample sample() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  const double cpu = static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                     1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
  return {Clock::now(), cpu, r.ru_minflt};
}

/// Writes "<name>_s=... <name>_minflt=... <name>_cpu_wall=..." for the span from `a` to `b`.
std::string span(const char* name, const Sample& a, const Sample& b) {
  const double wall = std::chrono::duration<double>(b.wall - a.wall).count();
  return fmt::format("{0}_s={1:.3f} {0}_minflt={2} {0}_cpu_wall={3:.3f}", name, wall, b.minflt - a.minflt,
                     (b.cpu_s - a.cpu_s) / wall);
}

/// What OpenBLAS uses now, for the table (0: the loaded BLAS is not OpenBLAS).
int openblas_threads() {
  auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get != nullptr ? get() : 0;
}

/// The child: one variant, one line on stdout.
int run_variant(const std::string& variant, int64_t train_n, int64_t test_n) {
  at::set_num_threads(1);
  bool allocator_tuned = false;
  if (variant == "tuned") {
    allocator_tuned = lightning::detail::tune_host_allocator();
    lightning::detail::match_blas_threads(at::get_num_threads());
  }
  torch::manual_seed(0);
  const auto train_x = torch::randn({train_n, 1, 28, 28}), train_y = torch::randint(0, 10, {train_n}, torch::kLong);
  const auto test_x = torch::randn({test_n, 1, 28, 28}), test_y = torch::randint(0, 10, {test_n}, torch::kLong);
  auto net = make_cnn();
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(1e-3));

  const Sample start = sample();
  net->train();
  const auto order = torch::randperm(train_n);
  for (int64_t i = 0; i < train_n; i += kTrainBatch) {
    // Fresh batch tensors every step, as the DataLoader's collate makes them.
    const auto idx = order.narrow(0, i, std::min(kTrainBatch, train_n - i));
    const auto x = train_x.index_select(0, idx), y = train_y.index_select(0, idx);
    optimizer.zero_grad();
    F::cross_entropy(net->forward(x), y).backward();
    optimizer.step();
  }
  const Sample fitted = sample();
  double test_loss = 0;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    for (int64_t i = 0; i < test_n; i += kTestBatch) {
      const int64_t n = std::min(kTestBatch, test_n - i);
      const auto x = test_x.narrow(0, i, n).clone(), y = test_y.narrow(0, i, n).clone();
      test_loss += F::cross_entropy(net->forward(x), y, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
    }
  }
  const Sample tested = sample();
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  std::cout << fmt::format("result {} {} rss_mib={:.1f} test_loss={:.4f} allocator_tuned={:d} blas_threads={}\n",
                           span("fit", start, fitted), span("test", fitted, tested),
                           static_cast<double>(r.ru_maxrss) / 1024.0, test_loss / static_cast<double>(test_n),
                           allocator_tuned, openblas_threads())
            << std::flush;
  return 0;
}

/// A child process, killed and reaped when it goes out of scope unless already reaped.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  /// Waits for its exit; returns waitpid's status.
  int reap() {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return status;
  }
};

/// Runs one variant in a re-executed copy of this program and returns its "key=value" figures.
std::map<std::string, double> run_child(const std::string& variant, int64_t train_n, int64_t test_n) {
  // argv built before fork: the child may only make async-signal-safe calls until exec.
  std::vector<std::string> args = {"cpu_host_memory", "--variant", variant, std::to_string(train_n),
                                   std::to_string(test_n)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  const pid_t parent = getpid();
  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    // Dies with the bench even when the bench is killed outright.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (child.pid < 0) {
    close(fds[0]);
    throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  }

  // Reads until the child closes its stdout (it exits); `child` kills and reaps it on a throw.
  std::string out;
  const auto deadline = Clock::now() + kChildTimeout;
  for (char buf[4096];;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = left > 0 ? poll(&pfd, 1, static_cast<int>(left)) : 0;
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t n = ready > 0 ? read(fds[0], buf, sizeof buf) : -1;
    if (n < 0 && ready > 0 && errno == EINTR) continue;
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    const int err = errno;
    close(fds[0]);
    if (n == 0) break;
    throw std::runtime_error(ready == 0 ? fmt::format("variant '{}' ran past {} s and was killed", variant,
                                                      kChildTimeout.count())
                                        : fmt::format("reading variant '{}': {}", variant, std::strerror(err)));
  }
  const int status = child.reap();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(fmt::format("variant '{}' failed ({} {})", variant,
                                         WIFEXITED(status) ? "exit status" : "signal",
                                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)));

  const auto line_start = out.rfind("result ");
  if (line_start == std::string::npos)
    throw std::runtime_error(fmt::format("variant '{}' printed no result line: '{}'", variant, out));
  std::map<std::string, double> figures;
  std::istringstream line(out.substr(line_start + 7, out.find('\n', line_start) - line_start - 7));
  for (std::string field; line >> field;) {
    const auto eq = field.find('=');
    if (eq != std::string::npos) figures[field.substr(0, eq)] = std::stod(field.substr(eq + 1));
  }
  return figures;
}

int64_t parse_count(const char* text, const char* name) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || text[used] != '\0' || value < 1)
    throw std::invalid_argument(fmt::format("{} must be a positive integer, got '{}'", name, text));
  return value;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 5 && std::string(argv[1]) == "--variant")
    return run_variant(argv[2], parse_count(argv[3], "train_images"), parse_count(argv[4], "test_images"));
  if (argc > 3) throw std::invalid_argument("usage: cpu_host_memory [train_images] [test_images]");
  const int64_t train_n = argc > 1 ? parse_count(argv[1], "train_images") : 60000;
  const int64_t test_n = argc > 2 ? parse_count(argv[2], "test_images") : 10000;

  std::vector<std::map<std::string, double>> runs;
  for (const char* variant : kVariants) runs.push_back(run_child(variant, train_n, test_n));
  const auto& base = runs[0];
  const auto& tuned = runs[1];

  std::cout << fmt::format(
      "cpu_host_memory: Fashion-MNIST CNN, synthetic data, {} train images (batch {}), {} test images "
      "(batch {}), 1 intra-op thread\n",
      train_n, kTrainBatch, test_n, kTestBatch);
  std::cout << fmt::format("{:<22}{:>12}{:>12}{:>15}\n", "", "default", "tuned", "tuned/default");
  struct Row {
    const char* label;
    const char* key;
    int decimals;
  };
  // The test loss is a check that both variants did the same work: its ratio should read 1.00.
  const Row rows[] = {{"fit time (s)", "fit_s", 2},          {"fit minor faults", "fit_minflt", 0},
                      {"fit CPU / wall", "fit_cpu_wall", 2},  {"test time (s)", "test_s", 2},
                      {"test minor faults", "test_minflt", 0}, {"test CPU / wall", "test_cpu_wall", 2},
                      {"peak RSS (MiB)", "rss_mib", 0},       {"test loss", "test_loss", 4}};
  for (const Row& row : rows)
    std::cout << fmt::format("{:<22}{:>12.{}f}{:>12.{}f}{:>15.2f}\n", row.label, base.at(row.key), row.decimals,
                             tuned.at(row.key), row.decimals, tuned.at(row.key) / base.at(row.key));
  const auto threads = [](double n) { return n > 0 ? fmt::format("{:g}", n) : std::string("not OpenBLAS"); };
  std::cout << fmt::format("{:<22}{:>12}{:>12}\n", "OpenBLAS threads", threads(base.at("blas_threads")),
                           threads(tuned.at("blas_threads")));
  if (tuned.at("allocator_tuned") == 0)
    std::cout << "note: tune_host_allocator() left glibc alone (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, "
                 "MALLOC_TOP_PAD_ or GLIBC_TUNABLES set), so both variants ran with the same allocator\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "cpu_host_memory: " << e.what() << "\n";
  return 1;
}
