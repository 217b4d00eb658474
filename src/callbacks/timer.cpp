#include "lightning/callbacks/timer.h"

#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"

#include <fmt/format.h>

#include <iostream>

namespace lightning {

Timer::Timer(std::optional<std::chrono::duration<double>> duration, std::string interval, bool verbose)
    : duration_(duration), interval_(std::move(interval)), verbose_(verbose) {
  if (interval_ != "step" && interval_ != "epoch")
    throw MisconfigurationException(
        fmt::format("Timer: interval='{}' is invalid; accepted: 'step', 'epoch'", interval_));
}

const Timer::Span& Timer::span(const std::string& stage) const {
  if (stage == "train") return train_;
  if (stage == "validate") return validate_;
  if (stage == "test") return test_;
  throw MisconfigurationException(
      fmt::format("Timer: stage='{}' is invalid; accepted: 'train', 'validate', 'test'", stage));
}

double Timer::time_elapsed(const std::string& stage) const {
  const auto& s = span(stage);
  const double offset = stage == "train" ? offset_ : 0.0;
  if (!s.start) return offset;
  auto end = s.end.value_or(Clock::now());
  return offset + std::chrono::duration<double>(end - *s.start).count();
}

Dict Timer::state_dict() const {
  Dict elapsed = new_dict();
  for (const char* stage : {"train", "validate", "test"}) elapsed.insert(stage, time_elapsed(stage));
  Dict d = new_dict();
  d.insert("time_elapsed", elapsed);
  return d;
}

void Timer::load_state_dict(const Dict& state) {
  auto it = state.find("time_elapsed");
  if (it == state.end() || !it->value().isGenericDict()) return;
  auto elapsed = it->value().toGenericDict();
  auto train = elapsed.find("train");
  if (train != elapsed.end() && (train->value().isDouble() || train->value().isInt()))
    offset_ = train->value().isDouble() ? train->value().toDouble() : static_cast<double>(train->value().toInt());
}

std::optional<double> Timer::time_remaining(const std::string& stage) const {
  if (!duration_) return std::nullopt;
  return duration_->count() - time_elapsed(stage);
}

void Timer::on_fit_start(Trainer&, LightningModule&) { train_ = {}; }
void Timer::on_train_start(Trainer&, LightningModule&) { train_.start = Clock::now(); }
void Timer::on_train_end(Trainer&, LightningModule&) { train_.end = Clock::now(); }
void Timer::on_validation_start(Trainer&, LightningModule&) { validate_ = {Clock::now(), std::nullopt}; }
void Timer::on_validation_end(Trainer&, LightningModule&) { validate_.end = Clock::now(); }
void Timer::on_test_start(Trainer&, LightningModule&) { test_ = {Clock::now(), std::nullopt}; }
void Timer::on_test_end(Trainer&, LightningModule&) { test_.end = Clock::now(); }

void Timer::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, const Batch&, int64_t) {
  if (interval_ == "step") check_time_remaining(trainer);
}

void Timer::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (interval_ == "epoch") check_time_remaining(trainer);
}

void Timer::check_time_remaining(Trainer& trainer) {
  if (!duration_ || trainer.should_stop) return;
  // Rank 0's clock decides for every process, or one would stop while the others wait for it.
  if (trainer.strategy().broadcast(time_elapsed("train") >= duration_->count()).toBool()) {
    trainer.should_stop = true;
    if (verbose_)
      rank_zero_info(fmt::format("Time limit reached. Elapsed time is {:.0f}s. Signaling Trainer to stop.",
                                 time_elapsed("train")));
  }
}

}  // namespace lightning
