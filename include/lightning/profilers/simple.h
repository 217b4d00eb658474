#pragma once
/// SimpleProfiler: the duration of every action, and a report of their means, counts, totals
/// and share of the run (Lightning's `SimpleProfiler`, same table).
#include "lightning/profilers/profiler.h"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace lightning::profilers {

class SimpleProfiler : public Profiler {
 public:
  /// `extended`: the report has the count and percentage columns and a Total row first.
  explicit SimpleProfiler(std::optional<std::string> dirpath = std::nullopt,
                          std::optional<std::string> filename = std::nullopt, bool extended = true);

  /// Throws std::invalid_argument when `action_name` is running already (Lightning's ValueError).
  void start(const std::string& action_name) override;
  /// Throws std::invalid_argument when `action_name` was not started.
  void stop(const std::string& action_name) override;
  std::string summary() override;

  /// Seconds of every finished run of each action, in the order actions first finished.
  const std::vector<std::pair<std::string, std::vector<double>>>& recorded_durations() const { return recorded_; }
  bool extended;

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_time_;
  std::map<std::string, Clock::time_point> current_actions_;
  std::vector<std::pair<std::string, std::vector<double>>> recorded_;
  std::map<std::string, size_t> index_;  // action -> position in recorded_
};

}  // namespace lightning::profilers
