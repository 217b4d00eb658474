#include "lightning/loops/training_epoch_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/trainer/trainer.h"
#include "trainer/resolved_options.h"
#include "trainer/signals.h"

#include <optional>
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
  if (trainer_.should_stop) return trainer_.fit_loop_->can_stop_early();
  return false;
}

bool TrainingEpochLoop::should_accumulate() const {
  const bool accumulation_done = (batch_idx() + 1) % trainer_.accumulate_grad_batches() == 0;
  return !(accumulation_done || num_ready_batches_reached());
}

void TrainingEpochLoop::run(DataLoader& loader) {
  const int64_t start = resume_batch;
  resume_batch = 0;
  if (start == 0) batch_progress.reset_current();  // else: the restored counters of this epoch
  batch_progress.is_last_batch = false;
  skip_rest_of_epoch_ = false;
  const int64_t limit = trainer_.num_training_batches();
  if (std::exchange(resume_validation, false)) run_validation();
  if (limit == 0 || start >= limit) return;
  // One batch of look-ahead tells whether the current batch is the last (as Lightning's
  // prefetching fetcher does), which validation and the progress bar need.
  auto it = loader.begin_at(static_cast<size_t>(start));
  const auto end = loader.end();
  std::optional<Batch> next;
  if (it != end) next = std::move(*it);
  for (int64_t idx = start; next && !skip_rest_of_epoch_; ++idx) {
    Batch current = std::move(*next);
    next.reset();
    if (idx + 1 < limit && ++it != end) next = std::move(*it);
    batch_progress.is_last_batch = !next;
    advance(std::move(current), idx);
    detail::raise_if_interrupted();
    if (done()) break;
  }
}

void TrainingEpochLoop::run_validation() {
  auto& t = trainer_;
  t.reset_val_dataloaders();
  if (!t.enable_validation()) return;
  t.call_module("on_validation_model_zero_grad", [](LightningModule& m) { m.on_validation_model_zero_grad(); });
  val_loop.run(t.val_dataloaders_, t.num_val_batches_);
  t.active_results_ = &results;
}

void TrainingEpochLoop::advance(Batch batch, int64_t batch_idx) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  batch_progress.increment_ready();
  t.logger_connector().on_batch_start(results);
  batch = t.transfer_batch(std::move(batch), 0);
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
  if (module.automatic_optimization) {
    output = optimization.run(batch, batch_idx, should_accumulate());
  } else {
    output = t.call_module("training_step", [&](LightningModule& m) { return m.training_step(batch, batch_idx); });
  }
  batch_progress.increment_processed();
  step_pending = !should_accumulate();
  t.logger_connector().update_train_step_metrics();
  t.call_hooks(
      "on_train_batch_end", [&](Callback& c) { c.on_train_batch_end(t, module, output, batch, batch_idx); },
      [&](LightningModule& m) { m.on_train_batch_end(output, batch, batch_idx); });
  batch_progress.increment_completed();

  if (should_check_val()) run_validation();
  if (std::exchange(step_pending, false)) ++batches_that_stepped;
}

bool TrainingEpochLoop::should_check_val() const {
  auto& t = trainer_;
  if (!t.enable_validation()) return false;
  const auto every = t.check_val_every_n_epoch();
  if (every && (t.current_epoch() + 1) % *every != 0) return false;
  const bool infinite = t.val_check_batch() == detail::kUnbounded;
  if (batch_progress.is_last_batch && infinite) return true;
  if (t.should_stop && t.fit_loop_->can_stop_early()) return true;
  if (infinite) return false;
  const int64_t iteration = every ? batch_idx() : total_batch_idx();
  return (iteration + 1) % t.val_check_batch() == 0;
}

}  // namespace lightning
