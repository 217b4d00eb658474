#include "lightning/profilers/advanced.h"

#include "lightning/utilities/errors.h"
#include "utilities/fs.h"

#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <set>
#include <stdexcept>

namespace lightning::profilers {

namespace legacy = torch::autograd::profiler;

struct AdvancedProfiler::Running {
  std::string action;
  std::chrono::steady_clock::time_point start;
  std::unique_ptr<at::RecordFunction> scope;  // the action as a user scope of the trace
};

AdvancedProfiler::AdvancedProfiler(std::optional<std::string> dirpath, std::optional<std::string> filename,
                                   double line_count_restriction)
    : Profiler(std::move(dirpath), std::move(filename)), line_count_restriction(line_count_restriction) {
  if (!(line_count_restriction > 0))
    throw MisconfigurationException(fmt::format(
        "AdvancedProfiler(line_count_restriction={}) is invalid; accepted: a fraction in (0, 1] or a row count > 1",
        line_count_restriction));
}

AdvancedProfiler::~AdvancedProfiler() {
  running_.clear();
  if (recording_) legacy::disableProfilerLegacy();
}

void AdvancedProfiler::start(const std::string& action_name) {
  for (const auto& r : running_)
    if (r->action == action_name)
      throw std::invalid_argument(fmt::format("Attempted to start {} which has already started.", action_name));
  if (running_.empty() && !torch::profiler::impl::profilerEnabled()) {
    legacy::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
    recording_ = true;
  }
  auto running = std::make_unique<Running>();
  running->action = action_name;
  running->scope = std::make_unique<at::RecordFunction>(at::RecordScope::USER_SCOPE);
  if (running->scope->isActive()) running->scope->before(action_name);
  running->start = std::chrono::steady_clock::now();
  running_.push_back(std::move(running));
}

void AdvancedProfiler::stop(const std::string& action_name) {
  const auto end = std::chrono::steady_clock::now();
  auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& r) { return r->action == action_name; });
  if (it == running_.end())
    throw std::invalid_argument(
        fmt::format("Attempting to stop recording an action ({}) which was never started.", action_name));
  auto& stats = stats_of(action_name);
  ++stats.calls;
  stats.seconds += std::chrono::duration<double>(end - (*it)->start).count();
  running_.erase(it);  // ends its user scope
  if (running_.empty() && recording_) collect_events();
}

AdvancedProfiler::ActionStats& AdvancedProfiler::stats_of(const std::string& action) {
  auto [slot, added] = index_.emplace(action, stats_.size());
  if (added) stats_.push_back(ActionStats{action});
  return stats_[slot->second];
}

void AdvancedProfiler::collect_events() {
  recording_ = false;
  const auto lists = legacy::disableProfilerLegacy();
  // Per thread, ranges nest: a pop closes the open push with its handle. An operator counts in
  // every action open around it (inclusive, as a profile of that action would show it).
  struct Open {
    const legacy::LegacyEvent* push;
    double children_us = 0;
  };
  for (const auto& events : lists) {
    std::vector<Open> open;
    for (const auto& e : events) {
      if (e.kind() == legacy::EventKind::PushRange) {
        open.push_back({&e});
        continue;
      }
      if (e.kind() != legacy::EventKind::PopRange) continue;
      auto match = std::find_if(open.rbegin(), open.rend(), [&](const Open& o) { return o.push->handle() == e.handle(); });
      if (match == open.rend()) continue;
      const Open closed = *match;
      open.erase(std::next(match).base());
      const std::string name = closed.push->name();
      const double duration = closed.push->cpuElapsedUs(e);
      const bool is_action = index_.count(name) > 0;
      trace_.push_back({name, closed.push->cpuUs(), duration, e.threadId(), is_action});
      if (!open.empty()) open.back().children_us += duration;
      if (is_action) continue;
      std::set<std::string> counted;
      for (const auto& o : open) {
        const std::string around = o.push->name();
        if (!index_.count(around) || !counted.insert(around).second) continue;
        auto& op = stats_of(around).operators[name];
        ++op.calls;
        op.cpu_total_us += duration;
        op.self_cpu_us += duration - closed.children_us;
      }
    }
  }
}

std::string AdvancedProfiler::summary() {
  // Lightning's `_stats_to_str`: the title, then "Profile stats for: <action>" and its table.
  std::vector<std::string> parts{report_title()};
  for (const auto& s : stats_) {
    std::string header = "Profile stats for: " + s.action;
    if (setup_local_rank()) header += fmt::format(" rank: {}", *setup_local_rank());
    parts.push_back(header);
    std::vector<std::pair<std::string, OperatorStats>> rows(s.operators.begin(), s.operators.end());
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.second.cpu_total_us > b.second.cpu_total_us; });
    const auto shown = line_count_restriction > 1
                           ? std::min(rows.size(), static_cast<size_t>(line_count_restriction))
                           : static_cast<size_t>(std::ceil(line_count_restriction * static_cast<double>(rows.size())));
    size_t width = 4;
    for (size_t i = 0; i < shown; ++i) width = std::max(width, rows[i].first.size());
    std::string table = fmt::format("{} calls, {:.6f} s in total; {} of {} operators", s.calls, s.seconds, shown,
                                    rows.size());
    const std::string head = fmt::format("{:<{}}  {:>16}  {:>16}  {:>10}", "Name", width, "Self CPU (ms)",
                                         "CPU total (ms)", "Calls");
    const std::string rule(head.size(), '-');
    table += "\n" + rule + "\n" + head + "\n" + rule;
    for (size_t i = 0; i < shown; ++i) {
      const auto& [name, op] = rows[i];
      table += fmt::format("\n{:<{}}  {:>16.3f}  {:>16.3f}  {:>10}", name, width, op.self_cpu_us / 1000.0,
                           op.cpu_total_us / 1000.0, op.calls);
    }
    parts.push_back(table + "\n" + rule);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "\n" : "") + parts[i];
  return out + "\n";
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

void AdvancedProfiler::teardown(const std::optional<std::string>& stage) {
  if (!trace_.empty() && dirpath) {
    // The Chrome trace format's complete events; written beside and renamed, never half a file.
    lightning::detail::make_dirs(*dirpath);
    const std::string path = *dirpath + "/" + prepare_filename(std::nullopt, ".pt.trace.json");
    {
      std::ostringstream out;
      out << "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [";
      const auto pid = static_cast<long>(::getpid());
      for (size_t i = 0; i < trace_.size(); ++i) {
        const auto& e = trace_[i];
        out << (i ? ",\n" : "\n")
            << fmt::format(R"({{"name": {}, "cat": "{}", "ph": "X", "ts": {:.3f}, "dur": {:.3f}, "pid": {}, "tid": {}}})",
                           json_string(e.name), e.user_scope ? "user_annotation" : "cpu_op", e.start_us,
                           e.duration_us, pid, e.thread);
      }
      out << "\n]}\n";
      if (const int err = lightning::detail::write_file_atomically(path, out.str()))
        throw MisconfigurationException(
            fmt::format("AdvancedProfiler: cannot write the trace '{}': {}", path, std::strerror(err)));
    }
    trace_path_ = path;
  }
  // Lightning's AdvancedProfiler forgets its profiles at each stage's end.
  trace_.clear();
  stats_.clear();
  index_.clear();
  Profiler::teardown(stage);
}

}  // namespace lightning::profilers
