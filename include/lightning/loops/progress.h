#pragma once
/// Resumable progress counters, as Lightning's `loops/progress.py`: each event is counted
/// when it is ready, started, processed and completed, in total and within the current run.
#include "lightning/checkpoint/checkpoint.h"

#include <cstdint>

namespace lightning {

struct ProgressTracker {
  int64_t ready = 0, started = 0, processed = 0, completed = 0;
  void reset() { *this = {}; }
  /// `{"ready", "started", "processed", "completed"}`, Lightning's keys.
  Dict state_dict() const;
  void load_state_dict(const Dict& state);
};

struct Progress {
  ProgressTracker total, current;
  void increment_ready() { ++total.ready, ++current.ready; }
  void increment_started() { ++total.started, ++current.started; }
  void increment_processed() { ++total.processed, ++current.processed; }
  void increment_completed() { ++total.completed, ++current.completed; }
  void reset_current() { current.reset(); }
  /// `{"total": {...}, "current": {...}}`.
  Dict state_dict() const;
  void load_state_dict(const Dict& state);
};

/// Batch progress also knows whether the current batch is the last of its epoch.
struct BatchProgress : Progress {
  bool is_last_batch = false;
  Dict state_dict() const;
  void load_state_dict(const Dict& state);
};

}  // namespace lightning
