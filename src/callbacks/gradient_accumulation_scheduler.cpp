#include "lightning/callbacks/gradient_accumulation_scheduler.h"

#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <algorithm>

namespace lightning {

GradientAccumulationScheduler::GradientAccumulationScheduler(std::map<int, int> scheduling)
    : scheduling_(std::move(scheduling)) {
  if (scheduling_.empty())
    throw MisconfigurationException(
        "GradientAccumulationScheduler: the scheduling is empty; accepted: a map epoch -> factor, e.g. {{5, 3}}");
  std::vector<std::string> pairs;
  for (const auto& [epoch, factor] : scheduling_) pairs.push_back(fmt::format("{}: {}", epoch, factor));
  if (scheduling_.begin()->first < 0)
    throw MisconfigurationException(fmt::format(
        "GradientAccumulationScheduler: epoch should be an int greater than or equal to 0. Got {{{}}}",
        fmt::join(pairs, ", ")));
  if (std::any_of(scheduling_.begin(), scheduling_.end(), [](const auto& e) { return e.second < 1; }))
    throw MisconfigurationException(fmt::format(
        "GradientAccumulationScheduler: accumulation factor should be an int greater than 0. Got {{{}}}",
        fmt::join(pairs, ", ")));
  scheduling_.emplace(0, 1);  // no-op when epoch 0 is given
}

int64_t GradientAccumulationScheduler::get_accumulate_grad_batches(int64_t epoch) const {
  auto it = scheduling_.upper_bound(static_cast<int>(std::min<int64_t>(epoch, INT32_MAX)));
  return std::prev(it)->second;
}

bool GradientAccumulationScheduler::going_to_accumulate_grad_batches() const {
  return std::any_of(scheduling_.begin(), scheduling_.end(), [](const auto& e) { return e.second > 1; });
}

void GradientAccumulationScheduler::on_train_start(Trainer& trainer, LightningModule& module) {
  if (!module.automatic_optimization)
    throw MisconfigurationException(
        "Automatic gradient accumulation and the `GradientAccumulationScheduler` is not supported for manual "
        "optimization; accepted: remove the callback or switch to automatic optimization");
  if (trainer.accumulate_grad_batches() != 1)
    throw MisconfigurationException(fmt::format(
        "You have set `accumulate_grad_batches={}` and are using the `GradientAccumulationScheduler` callback; "
        "accepted: either remove `accumulate_grad_batches` from the Trainer or remove the callback",
        trainer.accumulate_grad_batches()));
}

void GradientAccumulationScheduler::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  trainer.set_accumulate_grad_batches(get_accumulate_grad_batches(trainer.current_epoch()));
}

}  // namespace lightning
