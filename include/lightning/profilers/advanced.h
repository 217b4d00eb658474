#pragma once
/// AdvancedProfiler: LibTorch's autograd profiler around every action. Its report has, per
/// action, the operators that ran inside it (LibTorch's `aten::` calls, with the user scopes of
/// nested actions), sorted by total CPU time; each stage also writes a Chrome trace
/// (`<dirpath>/<stage>[-<filename>].pt.trace.json`, for Perfetto or chrome://tracing).
///
/// Lightning's AdvancedProfiler runs Python's cProfile per action; in C++ the interpreter-level
/// view is LibTorch's operator view, which is what Lightning's PyTorchProfiler reports, so
/// `profiler="pytorch"` selects this class too.
#include "lightning/profilers/profiler.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lightning::profilers {

class AdvancedProfiler : public Profiler {
 public:
  /// `line_count_restriction`: the operator rows each action's table shows — a fraction (0, 1]
  /// of them, or a count above 1 (Lightning's argument of that name).
  explicit AdvancedProfiler(std::optional<std::string> dirpath = std::nullopt,
                            std::optional<std::string> filename = std::nullopt, double line_count_restriction = 1.0);
  ~AdvancedProfiler() override;

  /// The outermost action turns LibTorch's profiler on (unless something else runs it already:
  /// then only durations are recorded); each action is a user scope in the trace.
  void start(const std::string& action_name) override;
  void stop(const std::string& action_name) override;
  std::string summary() override;
  /// Writes the stage's Chrome trace, then closes the report file.
  void teardown(const std::optional<std::string>& stage) override;

  /// One operator's figures inside one action (microseconds).
  struct OperatorStats {
    int64_t calls = 0;
    double cpu_total_us = 0;
    double self_cpu_us = 0;
  };
  struct ActionStats {
    std::string action;
    int64_t calls = 0;
    double seconds = 0;
    std::map<std::string, OperatorStats> operators;
  };
  /// Per action, in the order actions first finished.
  const std::vector<ActionStats>& stats() const { return stats_; }
  /// Where the last stage's trace went ("" before any).
  const std::string& trace_path() const { return trace_path_; }

  double line_count_restriction;

 private:
  struct Running;
  struct TraceEvent {
    std::string name;
    double start_us, duration_us;
    uint64_t thread;
    bool user_scope;
  };
  ActionStats& stats_of(const std::string& action);
  /// Folds what LibTorch recorded into `stats_` and `trace_`.
  void collect_events();

  std::vector<std::unique_ptr<Running>> running_;  // the open actions, outermost first
  bool recording_ = false;                         // this profiler turned LibTorch's on
  std::vector<ActionStats> stats_;
  std::map<std::string, size_t> index_;
  std::vector<TraceEvent> trace_;
  std::string trace_path_;
};

}  // namespace lightning::profilers
