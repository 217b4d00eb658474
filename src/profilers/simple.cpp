#include "lightning/profilers/simple.h"

#include "profilers/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace lightning::profilers {

SimpleProfiler::SimpleProfiler(std::optional<std::string> dirpath, std::optional<std::string> filename, bool extended)
    : Profiler(std::move(dirpath), std::move(filename)), extended(extended), start_time_(Clock::now()) {}

void SimpleProfiler::start(const std::string& action_name) {
  if (!current_actions_.emplace(action_name, Clock::now()).second)
    throw std::invalid_argument(fmt::format("Attempted to start {} which has already started.", action_name));
}

void SimpleProfiler::stop(const std::string& action_name) {
  const auto end = Clock::now();
  auto it = current_actions_.find(action_name);
  if (it == current_actions_.end())
    throw std::invalid_argument(
        fmt::format("Attempting to stop recording an action ({}) which was never started.", action_name));
  const double seconds = std::chrono::duration<double>(end - it->second).count();
  current_actions_.erase(it);
  auto [slot, added] = index_.emplace(action_name, recorded_.size());
  if (added) recorded_.emplace_back(action_name, std::vector<double>{});
  recorded_[slot->second].second.push_back(seconds);
}

std::string SimpleProfiler::summary() {
  // Lightning's layout, tabs and all: a header, the Total row (extended), then the actions by
  // share of the run (extended) or by mean duration.
  const std::string sep = "\n";
  std::string out = report_title() + sep;
  if (recorded_.empty()) return out + sep;
  size_t width = 0;
  for (const auto& [action, _] : recorded_) width = std::max(width, action.size());
  struct Row {
    std::string action;
    double mean, total, percentage;
    size_t calls;
  };
  const double run_seconds = std::chrono::duration<double>(Clock::now() - start_time_).count();
  std::vector<Row> rows;
  size_t total_calls = 0;
  for (const auto& [action, durations] : recorded_) {
    const double total = std::accumulate(durations.begin(), durations.end(), 0.0);
    rows.push_back({action, total / static_cast<double>(durations.size()), total, 100.0 * total / run_seconds,
                    durations.size()});
    total_calls += durations.size();
  }
  auto cell = [](const std::string& s) { return fmt::format("  {:<15}\t|", s); };
  auto line = [&](const std::string& action, const std::vector<std::string>& cells) {
    std::string row = fmt::format("{}|  {:<{}}\t|", sep, action, width);
    for (const auto& c : cells) row += cell(c);
    return row;
  };
  const auto header = extended ? line("Action", {"Mean duration (s)", "Num calls", "Total time (s)", "Percentage %"})
                               : line("Action", {"Mean duration (s)", "Total time (s)"});
  const std::string rule = sep + std::string(detail::expand_tabs(header).size(), '-');
  out += rule + header + rule;
  auto g = [](double v) { return detail::python_general(v, 5); };
  if (extended) {
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.percentage > b.percentage; });
    out += line("Total", {"-", std::to_string(total_calls), g(run_seconds), "100 %"}) + rule;
    for (const auto& r : rows) out += line(r.action, {g(r.mean), std::to_string(r.calls), g(r.total), g(r.percentage)});
  } else {
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.mean > b.mean; });
    for (const auto& r : rows) out += line(r.action, {g(r.mean), g(r.total)});
  }
  return out + rule + sep;
}

}  // namespace lightning::profilers
