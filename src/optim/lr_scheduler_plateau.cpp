// ReduceLROnPlateau: the scheduler stepped with a monitored metric rather than by the epoch.
#include "lightning/optim/lr_scheduler.h"

#include "lightning/utilities/errors.h"
#include "optim/lr_scheduler_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

namespace lightning::optim {
using namespace internal;  // lr_scheduler_common.h

// --- ReduceLROnPlateau -----------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(std::shared_ptr<Optimizer> optimizer, ReduceLROnPlateauOptions options)
    : LRScheduler(std::move(optimizer)), options_(std::move(options)) {
  const auto& o = options_;
  require(o.factor < 1.0, name(), fmt::format("factor={} is invalid; accepted: a number < 1.0", o.factor));
  require(o.mode == "min" || o.mode == "max", name(), fmt::format("mode='{}' is invalid; accepted: 'min', 'max'", o.mode));
  require(o.threshold_mode == "rel" || o.threshold_mode == "abs", name(),
          fmt::format("threshold_mode='{}' is invalid; accepted: 'rel', 'abs'", o.threshold_mode));
  min_lrs_.assign(optimizer_->param_groups().size(), o.min_lr);
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  last_epoch_ = 0;
  last_lr_ = group_lrs();
}

void ReduceLROnPlateau::step() {
  throw MisconfigurationException(
      "ReduceLROnPlateau.step() needs the monitored metric; accepted: step(metric), or a `monitor` in its "
      "LRSchedulerConfig so the Trainer passes the logged value");
}

bool ReduceLROnPlateau::is_better(double a) const {
  const auto& o = options_;
  if (o.mode == "min" && o.threshold_mode == "rel") return a < best_ * (1.0 - o.threshold);
  if (o.mode == "min") return a < best_ - o.threshold;
  if (o.threshold_mode == "rel") return a > best_ * (o.threshold + 1.0);
  return a > best_ + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++step_count_;
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience) {
    auto& groups = optimizer_->param_groups();
    for (size_t i = 0; i < groups.size(); ++i) {
      const double old_lr = groups[i].options().get_lr();
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[i]);
      if (old_lr - new_lr > options_.eps) groups[i].options().set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = group_lrs();
}

Dict ReduceLROnPlateau::state_dict() const {
  const auto& o = options_;
  Dict state = new_dict();
  state.insert("factor", o.factor);
  state.insert("min_lrs", doubles(min_lrs_));
  state.insert("patience", o.patience);
  state.insert("verbose", false);
  state.insert("cooldown", o.cooldown);
  state.insert("cooldown_counter", cooldown_counter_);
  state.insert("mode", o.mode);
  state.insert("threshold", o.threshold);
  state.insert("threshold_mode", o.threshold_mode);
  state.insert("best", best_);
  state.insert("num_bad_epochs", num_bad_epochs_);
  state.insert("mode_worse", o.mode == "min" ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity());
  state.insert("eps", o.eps);
  state.insert("last_epoch", last_epoch_);
  if (step_count_ > 0) state.insert("_last_lr", doubles(last_lr_));
  return state;
}

void ReduceLROnPlateau::load_state_dict(const Dict& state) {
  auto& o = options_;
  o.factor = number(at(state, "factor"));
  min_lrs_ = numbers(at(state, "min_lrs"));
  o.patience = at(state, "patience").toInt();
  o.cooldown = at(state, "cooldown").toInt();
  cooldown_counter_ = at(state, "cooldown_counter").toInt();
  o.mode = at(state, "mode").toStringRef();
  o.threshold = number(at(state, "threshold"));
  o.threshold_mode = at(state, "threshold_mode").toStringRef();
  best_ = number(at(state, "best"));
  num_bad_epochs_ = at(state, "num_bad_epochs").toInt();
  o.eps = number(at(state, "eps"));
  last_epoch_ = at(state, "last_epoch").toInt();
  if (auto it = state.find("_last_lr"); it != state.end()) {
    last_lr_ = numbers(it->value());
    step_count_ = std::max<int64_t>(step_count_, 1);
  }
}

}  // namespace lightning::optim
