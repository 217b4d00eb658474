#include "lightning/loops/progress.h"

#include "lightning/utilities/errors.h"

namespace lightning {
namespace {

int64_t int_at(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "loop progress");
  if (!v.isInt()) throw CheckpointError(std::string("loop progress: '") + key + "' is not an int");
  return v.toInt();
}

Dict dict_of(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "loop progress");
  if (!v.isGenericDict()) throw CheckpointError(std::string("loop progress: '") + key + "' is not a dict");
  return v.toGenericDict();
}

}  // namespace

Dict ProgressTracker::state_dict() const {
  Dict d = new_dict();
  d.insert("ready", ready);
  d.insert("started", started);
  d.insert("processed", processed);
  d.insert("completed", completed);
  return d;
}

void ProgressTracker::load_state_dict(const Dict& d) {
  ready = int_at(d, "ready");
  completed = int_at(d, "completed");
  // Lightning's optimizer trackers count only ready/completed.
  started = d.contains("started") ? int_at(d, "started") : ready;
  processed = d.contains("processed") ? int_at(d, "processed") : completed;
}

Dict Progress::state_dict() const {
  Dict d = new_dict();
  d.insert("total", total.state_dict());
  d.insert("current", current.state_dict());
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
