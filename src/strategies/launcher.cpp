#include "lightning/strategies/launcher.h"

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
#include <string>
#include <thread>

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

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  const int sig = WTERMSIG(status);
  const char* name = sigabbrev_np(sig);
  return fmt::format("was killed by signal {}{}", sig, name ? fmt::format(" (SIG{})", name) : "");
}

[[noreturn]] void fail_with(Observer& o, size_t index, int status) {
  std::cerr << fmt::format(
                   "[rank {}] DDP: the process of rank {} (local rank {}, PID {}) {}. Terminating the other processes "
                   "and exiting with its status ({}).",
                   o.first_global_rank - 1, o.first_global_rank + static_cast<int64_t>(index), index + 1,
                   o.pids[index], describe(status), exit_code_of(status))
            << std::endl;
  for (size_t i = 0; i < o.pids.size(); ++i)
    if (!o.done[i]) ::kill(o.pids[i], SIGKILL);
  for (size_t i = 0; i < o.pids.size(); ++i)
    if (!o.done[i]) ::waitpid(o.pids[i], nullptr, 0);
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
      for (size_t i = 0; i < o.pids.size(); ++i)
        if (!o.done[i]) ::kill(o.pids[i], SIGKILL), ::waitpid(o.pids[i], nullptr, 0);
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
  for (size_t i = 0; i < o.pids.size(); ++i) {
    if (o.done[i]) continue;
    ::kill(o.pids[i], signal);
    ::waitpid(o.pids[i], nullptr, 0);
    o.done[i] = true;
  }
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

}  // namespace

SubprocessScriptLauncher::SubprocessScriptLauncher(plugins::ClusterEnvironment& environment, int64_t num_processes,
                                                   int64_t num_nodes)
    : environment_(environment), num_processes_(num_processes), num_nodes_(num_nodes) {}

void SubprocessScriptLauncher::launch(const std::function<void()>& function) {
  environment_.validate_settings(num_processes_, num_nodes_);
  if (!environment_.creates_processes_externally()) call_children_scripts();
  function();
}

void SubprocessScriptLauncher::kill(int signal) {
  if (!procs_.empty()) detail::kill_children(signal);
}

void SubprocessScriptLauncher::call_children_scripts() {
  if (!procs_.empty()) throw DistributedError("The launcher can only create subprocesses once.");
  if (environment_.local_rank() != 0)
    throw MisconfigurationException(fmt::format(
        "Lightning attempted to launch new distributed processes with `local_rank > 0` (LOCAL_RANK={}). This should "
        "not happen. Possible reasons: 1) LOCAL_RANK environment variable was incorrectly modified by the user, "
        "2) `ClusterEnvironment.creates_processes_externally` incorrectly implemented.",
        environment_.local_rank()));
  // The children inherit these, and this process reads them as local rank 0 from now on.
  set_env("MASTER_ADDR", environment_.main_address());
  set_env("MASTER_PORT", std::to_string(environment_.main_port()));
  set_env("NODE_RANK", std::to_string(environment_.node_rank()));
  set_env("LOCAL_RANK", "0");
  set_env("WORLD_SIZE", std::to_string(num_processes_ * num_nodes_));

  const auto args = own_arguments();
  if (args.empty()) throw DistributedError("DDP: /proc/self/cmdline is empty: this program cannot be run again");
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  for (int64_t local_rank = 1; local_rank < num_processes_; ++local_rank) {
    // Everything the child needs is built before fork: between fork and exec only
    // async-signal-safe calls are allowed in a process with threads.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "LOCAL_RANK=", 11) != 0) env_strings.emplace_back(*e);
    env_strings.push_back(fmt::format("LOCAL_RANK={}", local_rank));
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::fflush(nullptr);
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
    procs_.push_back(pid);
  }
  if (!procs_.empty())
    detail::observe_children(procs_, environment_.node_rank() * num_processes_ + 1, std::chrono::minutes(5));
}

}  // namespace strategies
}  // namespace lightning
