#pragma once
// Runs this test binary again as other processes (the DDP tests' ranks and launchers): each in a
// process group of its own, its output in a file, every wait bounded, and nothing left behind:
// the group is killed at the end whatever happened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace lightning::testing {

/// A TCP port on 127.0.0.1 that the OS says is free now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Waits at most `timeout` for `pid` (the leader of its own process group); past it, kills the
/// group and reaps `pid`. Returns the exit code (128 + signal when killed).
inline int wait_or_kill_group(pid_t pid, std::chrono::milliseconds timeout, bool& timed_out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed
  bool timed_out = false;
  /// Processes of its group still alive when it ended (killed then).
  bool left_processes = false;
  std::string output;
  double seconds = 0;
};

/// This binary, started with `args` and the test's environment minus every distributed-launch
/// variable, plus `env`.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
               std::string log_path)
      : log_path_(std::move(log_path)), start_(std::chrono::steady_clock::now()) {
    // Orphans of the child (its own children) are reparented to us, so we can reap and count them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      const std::string entry(*e);
      const auto name = entry.substr(0, entry.find('='));
      static const char* const dropped[] = {"LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "RANK", "WORLD_SIZE",
                                            "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "PL_GLOBAL_SEED"};
      bool drop = name.rfind("SLURM_", 0) == 0 || name.rfind("TORCHELASTIC_", 0) == 0 || env.count(name);
      for (const char* d : dropped) drop = drop || name == d;
      if (!drop) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<std::string> argv_strings{"lightning_tests"};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log < 0) throw std::runtime_error("ChildProcess: cannot open " + log_path_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execve("/proc/self/exe", argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(log);
    if (pid_ < 0) throw std::runtime_error("ChildProcess: fork failed");
    ::setpgid(pid_, pid_);
  }
  ~ChildProcess() {
    if (!finished_) wait(std::chrono::seconds(0));
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }

  /// Waits at most `timeout` for it; then kills its whole group either way.
  ProcessResult wait(std::chrono::milliseconds timeout) {
    ProcessResult result;
    result.exit_code = wait_or_kill_group(pid_, timeout, result.timed_out);
    finished_ = true;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    // What is left of its group gets a moment to exit on its own, then is killed and counted.
    const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (group_alive() && std::chrono::steady_clock::now() < grace)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (group_alive()) {
      result.left_processes = true;
      ::kill(-pid_, SIGKILL);
      while (group_alive()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    result.output = text.str();
    return result;
  }

 private:
  /// Reaps orphans of the group reparented to us; true while a member still runs.
  bool group_alive() const {
    while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
    }
    return ::kill(-pid_, 0) == 0;
  }
  std::string log_path_;
  std::chrono::steady_clock::time_point start_;
  int pid_ = -1;
  bool finished_ = false;
};

}  // namespace lightning::testing
