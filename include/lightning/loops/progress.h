#pragma once
/// Resumable progress counters, as Lightning's `loops/progress.py`: each event is counted
/// when it is ready, started, processed and completed, in total and within the current run.
#include "lightning/checkpoint/dict.h"

#include <cstdint>

namespace lightning {

/// Which counters a tracker has in Lightning's checkpoints (its `_ReadyCompletedTracker`,
/// `_StartedTracker` and `_ProcessedTracker`).
enum class TrackedEvents { ReadyCompleted, Started, Processed };

struct ProgressTracker {
  int64_t ready = 0, started = 0, processed = 0, completed = 0;
  void reset() { *this = {}; }
  /// Lightning's keys in its order: `ready`, `completed`, then `started` and `processed` as `events` has them.
  Dict state_dict(TrackedEvents events = TrackedEvents::Processed) const;
  /// Counters a tracker kind lacks take the value of those it has (started = ready, processed = completed).
  void load_state_dict(const Dict& state);
};

struct Progress {
  ProgressTracker total, current;
  TrackedEvents events = TrackedEvents::Processed;
  Progress() = default;
  explicit Progress(TrackedEvents e) : events(e) {}
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
