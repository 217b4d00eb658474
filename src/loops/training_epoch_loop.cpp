#include "lightning/loops/training_epoch_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/core/module.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "trainer/resolved_options.h"
#include "trainer/signals.h"

#include <fmt/format.h>

#include <iostream>
#include <optional>
#include <string_view>
#include <utility>

namespace lightning {

TrainingEpochLoop::TrainingEpochLoop(Trainer& trainer)
    : val_loop(trainer, RunningStage::Validating), optimization(trainer), trainer_(trainer) {}

bool TrainingEpochLoop::num_ready_batches_reached() const {
  return batch_progress.current.ready >= trainer_.num_training_batches() || batch_progress.is_last_batch;
}

bool TrainingEpochLoop::done() const {
  const int64_t max_steps = trainer_.max_steps();
  if ((max_steps >= 0 && global_step() >= max_steps) || num_ready_batches_reached()) return true;
  if (trainer_.should_stop) return trainer_.fit_loop().can_stop_early();
  return false;
}

bool TrainingEpochLoop::should_accumulate() const {
  const bool accumulation_done = (batch_idx() + 1) % trainer_.accumulate_grad_batches() == 0;
  return !(accumulation_done || num_ready_batches_reached());
}

void TrainingEpochLoop::run(DataLoader& loader) {
  const int64_t start = resume_batch;
  resume_batch = 0;
  if (start == 0) {
    // A new epoch (else: the restored counters of this one), as Lightning's `reset`.
    batch_progress.reset_current();
    scheduler_progress.reset_current();
    optimization.step_progress.reset_current();
    optimization.zero_grad_progress.reset_current();
    val_loop.batch_progress.total.reset();  // counts the validation batches of this epoch
  }
  if (std::exchange(finish_interrupted_batch, false)) {  // with the restored is_last_batch
    step_pending = !should_accumulate();
    resume_validation = should_check_val();
  }
  if (std::exchange(resume_validation, false)) run_validation();
  if (std::exchange(step_pending, false)) ++batches_that_stepped;
  batch_progress.is_last_batch = false;
  skip_rest_of_epoch_ = false;
  const int64_t limit = trainer_.num_training_batches();
  if (limit == 0 || start >= limit) return;
  // One batch of look-ahead tells whether the current batch is the last (as Lightning's
  // prefetching fetcher does), which validation and the progress bar need.
  constexpr const char* kNextAction = "[_TrainingEpochLoop].train_dataloader_next";  // the profiler's name
  auto it = [&] {
    auto timed = trainer_.profile(kNextAction);
    return loader.begin_at(static_cast<size_t>(start));
  }();
  const auto end = loader.end();
  std::optional<Batch> next;
  if (it != end) next = std::move(*it);
  for (int64_t idx = start; next && !skip_rest_of_epoch_; ++idx) {
    Batch current = std::move(*next);
    next.reset();
    if (idx + 1 < limit) {
      auto timed = trainer_.profile(kNextAction);
      if (++it != end) next = std::move(*it);
    }
    batch_progress.is_last_batch = !next;
    advance(std::move(current), idx);
    detail::raise_if_interrupted();
    if (done()) break;
  }
}

void TrainingEpochLoop::run_validation() {
  auto& t = trainer_;
  // Lightning's order, under the validating stage: free the gradients (not those of a window
  // still accumulating: they belong to its coming optimizer step), then (re)load the loaders.
  t.set_stage(RunningStage::Validating);
  if (!should_accumulate())
    t.call_module("on_validation_model_zero_grad", [](LightningModule& m) { m.on_validation_model_zero_grad(); });
  val_loop.setup_data();
  if (t.enable_validation()) val_loop.run();
  t.set_stage(RunningStage::Training);
  t.set_active_results(&results);
}

void TrainingEpochLoop::advance(Batch batch, int64_t batch_idx) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  batch_progress.increment_ready();
  t.logger_connector().on_batch_start(results);
  batch = t.call_strategy("batch_to_device",
                          [&](strategies::Strategy& s) { return s.batch_to_device(std::move(batch), 0); });
  t.current_batch_size = batch.batch_size();
  t.call_callbacks("on_train_batch_start",
                   [&](Callback& c) { c.on_train_batch_start(t, module, batch, batch_idx); });
  const int response =
      t.call_module("on_train_batch_start", [&](LightningModule& m) { return m.on_train_batch_start(batch, batch_idx); });
  if (response == -1) {
    batch_progress.increment_processed();
    skip_rest_of_epoch_ = true;
    return;
  }
  batch_progress.increment_started();
  StepOutput output;
  {
    auto timed = t.profile("run_training_batch");
    if (module.automatic_optimization) {
      output = optimization.run(batch, batch_idx, should_accumulate());
    } else {
      output = t.call_strategy("training_step",
                               [&](strategies::Strategy& s) { return s.training_step(batch, batch_idx); });
    }
  }
  batch_progress.increment_processed();
  update_lr_schedulers("step", false);
  if (num_ready_batches_reached()) update_lr_schedulers("epoch", false);
  step_pending = !should_accumulate();
  t.logger_connector().update_train_step_metrics(results, module.automatic_optimization && !step_pending);
  t.call_hooks(
      "on_train_batch_end", [&](Callback& c) { c.on_train_batch_end(t, module, output, batch, batch_idx); },
      [&](LightningModule& m) { m.on_train_batch_end(output, batch, batch_idx); });
  t.logger_connector().on_batch_end(results);
  batch_progress.increment_completed();

  if (should_check_val()) run_validation();
  update_lr_schedulers("step", true);  // plateau schedulers see this batch's validation metrics
  if (std::exchange(step_pending, false)) ++batches_that_stepped;
}

void TrainingEpochLoop::update_lr_schedulers(const char* interval, bool plateau) {
  auto& t = trainer_;
  const auto& configs = t.lr_scheduler_configs();
  if (configs.empty() || !t.lightning_module().automatic_optimization) return;
  const bool by_step = std::string_view(interval) == "step";
  if (by_step && should_accumulate()) return;
  const int64_t index = (by_step ? batch_idx() : t.current_epoch()) + 1;
  for (const auto& c : configs) {
    if (plateau != c.scheduler->reduce_on_plateau() || c.interval != interval || index % c.frequency != 0) continue;
    std::optional<double> metric;
    if (plateau) {
      const auto metrics = t.callback_metrics();
      auto it = metrics.find(*c.monitor);
      if (it == metrics.end()) {
        std::vector<std::string> available;
        for (const auto& [name, value] : metrics) available.push_back("'" + name + "'");
        if (c.strict)
          throw MisconfigurationException(fmt::format(
              "ReduceLROnPlateau conditioned on metric {} which is not available. Available metrics are: [{}]. "
              "Condition can be set using `monitor` key in lr scheduler dict",
              *c.monitor, fmt::join(available, ", ")));
        rank_zero_info(fmt::format(
            "ReduceLROnPlateau conditioned on metric {} which is not available but strict is set to "
            "`False`. Skipping learning rate update.",
            *c.monitor));
        continue;
      }
      metric = it->second.item<double>();
    }
    scheduler_progress.increment_ready();
    t.call_module("lr_scheduler_step", [&](LightningModule& m) { m.lr_scheduler_step(*c.scheduler, metric); });
    scheduler_progress.increment_completed();
  }
}

bool TrainingEpochLoop::should_check_val() const {
  auto& t = trainer_;
  if (!t.enable_validation()) return false;
  const auto every = t.check_val_every_n_epoch();
  if (every && (t.current_epoch() + 1) % *every != 0) return false;
  const bool infinite = t.val_check_batch() == detail::kUnbounded;
  if (batch_progress.is_last_batch && infinite) return true;
  if (t.should_stop && t.fit_loop().can_stop_early()) return true;
  if (infinite) return false;
  const int64_t iteration = every ? batch_idx() : total_batch_idx();
  return (iteration + 1) % t.val_check_batch() == 0;
}

}  // namespace lightning
