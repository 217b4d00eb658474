#include "lightning/strategies/launcher.h"

#include "lightning/plugins/checkpoint_io.h"
#include "lightning/plugins/environments.h"
#include "lightning/utilities/errors.h"
#include "strategies/process_observer.h"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <ftw.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace lightning {
namespace detail {
namespace {

struct Observer {
  std::mutex mutex;
  std::vector<int> pids;
  std::vector<bool> done;
  int64_t first_global_rank = 1;
  std::chrono::milliseconds exit_wait{0};
  std::atomic<bool> stop{false};
  std::thread thread;
};

Observer& observer() {
  static auto* instance = new Observer;  // outlives every static destructor: atexit uses it
  return *instance;
}

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  const int sig = WTERMSIG(status);
  const char* name = sigabbrev_np(sig);
  return fmt::format("was killed by signal {}{}", sig, name ? fmt::format(" (SIG{})", name) : "");
}

namespace {

/// Sends `signal` to the children still running, then reaps them (the caller holds the lock).
void kill_remaining(Observer& o, int signal) {
  for (size_t i = 0; i < o.pids.size(); ++i)
    if (!o.done[i]) ::kill(o.pids[i], signal);
  for (size_t i = 0; i < o.pids.size(); ++i)
    if (!o.done[i]) ::waitpid(o.pids[i], nullptr, 0), o.done[i] = true;
}

[[noreturn]] void fail_with(Observer& o, size_t index, int status) {
  std::cerr << fmt::format(
                   "[rank {}] DDP: the process of rank {} (local rank {}, PID {}) {}. Terminating the other processes "
                   "and exiting with its status ({}).",
                   o.first_global_rank - 1, o.first_global_rank + static_cast<int64_t>(index), index + 1,
                   o.pids[index], describe_status(status), exit_code_of(status))
            << std::endl;
  o.done[index] = true;
  kill_remaining(o, SIGKILL);
  std::fflush(stdout);
  ::_exit(exit_code_of(status));
}

/// Reaps the children that ended; exits the process if one failed. True when all have ended.
bool poll_once(Observer& o) {
  std::lock_guard lock(o.mutex);
  bool all_done = true;
  for (size_t i = 0; i < o.pids.size(); ++i) {
    if (o.done[i]) continue;
    int status = 0;
    const int got = ::waitpid(o.pids[i], &status, WNOHANG);
    if (got == 0) {
      all_done = false;
      continue;
    }
    o.done[i] = true;
    if (got < 0) continue;  // already reaped elsewhere
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_with(o, i, status);
  }
  return all_done;
}

void wait_at_exit() {
  auto& o = observer();
  o.stop = true;
  if (o.thread.joinable()) o.thread.join();
  const auto deadline = std::chrono::steady_clock::now() + o.exit_wait;
  while (!poll_once(o)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << fmt::format("[rank {}] DDP: the other processes did not end within {} s of this one; killing them.",
                               o.first_global_rank - 1, o.exit_wait.count() / 1000)
                << std::endl;
      std::lock_guard lock(o.mutex);
      kill_remaining(o, SIGKILL);
      std::fflush(stdout);
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

void observe_children(std::vector<int> pids, int64_t first_global_rank, std::chrono::milliseconds exit_wait) {
  auto& o = observer();
  {
    std::lock_guard lock(o.mutex);
    o.pids = std::move(pids);
    o.done.assign(o.pids.size(), false);
    o.first_global_rank = first_global_rank;
    o.exit_wait = exit_wait;
  }
  o.thread = std::thread([&o] {
    while (!o.stop && !poll_once(o)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  std::atexit(wait_at_exit);
}

void exit_if_a_child_failed(std::chrono::milliseconds wait) {
  auto& o = observer();
  {
    std::lock_guard lock(o.mutex);
    if (o.pids.empty()) return;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!poll_once(o) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void kill_children(int signal) {
  auto& o = observer();
  std::lock_guard lock(o.mutex);
  kill_remaining(o, signal);
}

}  // namespace detail

namespace strategies {
namespace {

/// This program's arguments as it was started (argv[0] included).
std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < all.size();) {
    const size_t end = all.find('\0', start);
    args.push_back(all.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args;
}

void set_env(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

/// Runs this program again, with the same arguments and working folder, with this process's
/// environment and `LOCAL_RANK=local_rank` (and `extra`). The child dies with this process.
int start_copy_of_this_program(int64_t local_rank, const std::vector<std::string>& extra = {}) {
  const auto args = own_arguments();
  if (args.empty()) throw DistributedError("DDP: /proc/self/cmdline is empty: this program cannot be run again");
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are allowed in a process with threads.
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LOCAL_RANK=", 11) != 0) env_strings.emplace_back(*e);
  env_strings.push_back(fmt::format("LOCAL_RANK={}", local_rank));
  env_strings.insert(env_strings.end(), extra.begin(), extra.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw DistributedError(fmt::format("DDP: could not start the process of local rank {}: fork failed: {}",
                                       local_rank, std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphan if this process dies
    if (::getppid() != parent) ::_exit(1);
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

/// The launcher's checks before it starts processes (Lightning's `_check_can_spawn_children`),
/// then the rendezvous variables every process reads.
void prepare_to_start(plugins::ClusterEnvironment& environment, bool started_before, int64_t world_size) {
  if (started_before) throw DistributedError("The launcher can only create subprocesses once.");
  if (environment.local_rank() != 0)
    throw MisconfigurationException(fmt::format(
        "Lightning attempted to launch new distributed processes with `local_rank > 0` (LOCAL_RANK={}). This should "
        "not happen. Possible reasons: 1) LOCAL_RANK environment variable was incorrectly modified by the user, "
        "2) `ClusterEnvironment.creates_processes_externally` incorrectly implemented.",
        environment.local_rank()));
  set_env("MASTER_ADDR", environment.main_address());
  set_env("MASTER_PORT", std::to_string(environment.main_port()));
  set_env("NODE_RANK", std::to_string(environment.node_rank()));
  set_env("WORLD_SIZE", std::to_string(world_size));
}

constexpr const char* kSpawnFolderVariable = "LIGHTNING_SPAWN_FOLDER";
constexpr const char* kSpawnCallVariable = "LIGHTNING_SPAWN_CALL";

}  // namespace

SubprocessScriptLauncher::SubprocessScriptLauncher(plugins::ClusterEnvironment& environment, int64_t num_processes,
                                                   int64_t num_nodes)
    : environment_(environment), num_processes_(num_processes), num_nodes_(num_nodes) {}

std::optional<Dict> SubprocessScriptLauncher::launch(const std::function<Dict()>& function) {
  environment_.validate_settings(num_processes_, num_nodes_);
  if (!environment_.creates_processes_externally()) call_children_scripts();
  function();
  return std::nullopt;
}

void SubprocessScriptLauncher::kill(int signal) {
  if (!procs_.empty()) detail::kill_children(signal);
}

void SubprocessScriptLauncher::call_children_scripts() {
  prepare_to_start(environment_, !procs_.empty(), num_processes_ * num_nodes_);
  set_env("LOCAL_RANK", "0");  // this process is local rank 0 from now on
  for (int64_t local_rank = 1; local_rank < num_processes_; ++local_rank)
    procs_.push_back(start_copy_of_this_program(local_rank));
  if (!procs_.empty())
    detail::observe_children(procs_, environment_.node_rank() * num_processes_ + 1, std::chrono::minutes(5));
}

SpawnLauncher::SpawnLauncher(plugins::ClusterEnvironment& environment, int64_t num_processes, int64_t num_nodes,
                             std::shared_ptr<plugins::CheckpointIO> checkpoint_io)
    : environment_(environment),
      num_processes_(num_processes),
      num_nodes_(num_nodes),
      checkpoint_io_(checkpoint_io ? std::move(checkpoint_io) : std::make_shared<plugins::TorchCheckpointIO>()) {}

namespace {

// One program may call fit, then test, ... each a spawn. Worker k of call n reruns the program:
// its calls before n replay what the caller got back from them (the same weights, metrics and
// best checkpoint), call n runs, and the worker ends there.
std::atomic<int64_t> spawn_calls{0};

/// The caller's folder of results, one file per call, removed when the caller exits.
const std::string& spawn_folder() {
  static const std::string folder = [] {
    if (const char* given = std::getenv(kSpawnFolderVariable)) return std::string(given);
    char pattern[] = "/tmp/lightning-spawn-XXXXXX";
    if (!::mkdtemp(pattern)) throw DistributedError("ddp_spawn: could not create a folder for the workers' results");
    static std::string created = pattern;
    std::atexit([] {
      ::nftw(created.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 8,
             FTW_DEPTH | FTW_PHYS);
    });
    return created;
  }();
  return folder;
}

std::string call_file(int64_t call) { return fmt::format("{}/call_{}.ckpt", spawn_folder(), call); }

}  // namespace

std::optional<Dict> SpawnLauncher::launch(const std::function<Dict()>& function) {
  environment_.validate_settings(num_processes_, num_nodes_);
  const int64_t call = spawn_calls++;
  if (const char* target = std::getenv(kSpawnCallVariable)) {
    const int64_t worker_call = std::stoll(target);
    if (call < worker_call) return checkpoint_io_->load_checkpoint(call_file(call)).toGenericDict();
    // This worker's call: run it, hand rank 0's results to the caller, and end here, as a
    // spawned Python worker ends with its function (the rest of the program is the caller's).
    auto results = function();
    if (environment_.global_rank() == 0) checkpoint_io_->save_checkpoint(results, call_file(call));
    std::fflush(nullptr);
    std::exit(0);
  }
  if (environment_.creates_processes_externally())
    throw MisconfigurationException(fmt::format(
        "strategy='ddp_spawn' starts its own processes, and this one was started by a launcher ({} found "
        "LOCAL_RANK={}); accepted: strategy='ddp' under torchrun, srun or a second command",
        environment_.name(), environment_.local_rank()));
  prepare_to_start(environment_, false, num_processes_ * num_nodes_);
  const std::string result_path = call_file(call);
  procs_.clear();
  for (int64_t local_rank = 0; local_rank < num_processes_; ++local_rank)
    procs_.push_back(start_copy_of_this_program(
        local_rank, {fmt::format("{}={}", kSpawnFolderVariable, spawn_folder()),
                     fmt::format("{}={}", kSpawnCallVariable, call)}));
  // Wait for all; the first that fails stops the others (PyTorch's `start_processes` raises then).
  // Of the failures seen in one look, a killed process is named first: the others most likely
  // failed because it was gone.
  std::vector<bool> done(procs_.size(), false);
  for (size_t left = procs_.size(); left > 0;) {
    std::optional<std::pair<size_t, int>> failed;
    for (size_t i = 0; i < procs_.size(); ++i) {
      int status = 0;
      if (done[i] || ::waitpid(procs_[i], &status, WNOHANG) != procs_[i]) continue;
      done[i] = true;
      --left;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      if (!failed || (WIFSIGNALED(status) && !WIFSIGNALED(failed->second))) failed = {i, status};
    }
    if (failed) {
      const auto [i, status] = *failed;
      const int pid = procs_[i];
      std::vector<int> running;
      for (size_t j = 0; j < procs_.size(); ++j)
        if (!done[j]) running.push_back(procs_[j]);
      procs_ = std::move(running);
      kill(SIGKILL);
      throw DistributedError(fmt::format(
          "ddp_spawn: the process of rank {} (local rank {}, PID {}) {}; the other processes were stopped",
          environment_.node_rank() * num_processes_ + static_cast<int64_t>(i), i, pid,
          detail::describe_status(status)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  procs_.clear();
  return checkpoint_io_->load_checkpoint(result_path).toGenericDict();
}

void SpawnLauncher::kill(int signal) {
  for (int pid : procs_) ::kill(pid, signal);
  for (int pid : procs_) ::waitpid(pid, nullptr, 0);
  procs_.clear();
}

}  // namespace strategies
}  // namespace lightning
