#pragma once
// The launcher's watch over the processes it started (Lightning's `_ChildProcessObserver`).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lightning::detail {

/// Starts watching `pids`, the processes of local ranks 1..N (their global ranks start at
/// `first_global_rank`): a thread polls them, and when one exits with an error or is killed it
/// reports which, kills the others and exits this process with that child's status (128 + the
/// signal number when killed). When this process exits normally, it first waits for the children
/// (at most `exit_wait`) and exits non-zero if one failed.
void observe_children(std::vector<int> pids, int64_t first_global_rank, std::chrono::milliseconds exit_wait);

/// In a process that started children: looks at them for up to `wait`, and exits as above if one
/// has failed (a collective that failed here is most likely that child's death). Elsewhere it
/// returns at once.
void exit_if_a_child_failed(std::chrono::milliseconds wait);

/// Sends `signal` to the children still running and reaps them; they are no longer watched (this
/// process is failing on its own account, and reports that).
void kill_children(int signal);

/// "exited with code 3", "was killed by signal 9 (SIGKILL)": a waitpid status, for messages.
std::string describe_status(int status);

}  // namespace lightning::detail
