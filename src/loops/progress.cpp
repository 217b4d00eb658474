#include "lightning/loops/progress.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning {
namespace {

int64_t int_at(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "loop progress");
  if (!v.isInt()) throw CheckpointError(fmt::format("loop progress: '{}' is a {}, expected an int", key, v.tagKind()));
  return v.toInt();
}

Dict dict_of(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "loop progress");
  if (!v.isGenericDict()) throw CheckpointError(fmt::format("loop progress: '{}' is a {}, expected a dict", key, v.tagKind()));
  return v.toGenericDict();
}

}  // namespace

Dict ProgressTracker::state_dict(TrackedEvents events) const {
  Dict d = new_dict();
  d.insert("ready", ready);
  d.insert("completed", completed);
  if (events != TrackedEvents::ReadyCompleted) d.insert("started", started);
  if (events == TrackedEvents::Processed) d.insert("processed", processed);
  return d;
}

void ProgressTracker::load_state_dict(const Dict& d) {
  ready = int_at(d, "ready");
  completed = int_at(d, "completed");
  started = d.contains("started") ? int_at(d, "started") : ready;
  processed = d.contains("processed") ? int_at(d, "processed") : completed;
  // Every event is counted ready, then started, processed and completed.
  if (completed < 0 || !(ready >= started && started >= processed && processed >= completed))
    throw CheckpointError(fmt::format("loop progress: ready={}, started={}, processed={}, completed={} are not "
                                      "counts of one event; expected ints >= 0 with ready >= started >= processed >= "
                                      "completed",
                                      ready, started, processed, completed));
}

Dict Progress::state_dict() const {
  Dict d = new_dict();
  d.insert("total", total.state_dict(events));
  d.insert("current", current.state_dict(events));
  return d;
}

void Progress::load_state_dict(const Dict& d) {
  total.load_state_dict(dict_of(d, "total"));
  current.load_state_dict(dict_of(d, "current"));
}

Dict BatchProgress::state_dict() const {
  Dict d = Progress::state_dict();
  d.insert("is_last_batch", is_last_batch);
  return d;
}

void BatchProgress::load_state_dict(const Dict& d) {
  Progress::load_state_dict(d);
  auto it = d.find("is_last_batch");
  is_last_batch = it != d.end() && it->value().isBool() && it->value().toBool();
}

}  // namespace lightning
