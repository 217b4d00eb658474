#include "lightning/loops/fit_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/seed.h"
#include "trainer/resolved_options.h"

#include <fmt/format.h>

#include <iostream>
#include <utility>

namespace lightning {

FitLoop::FitLoop(Trainer& trainer) : epoch_loop(trainer), trainer_(trainer) {}

bool FitLoop::can_stop_early() const {
  const auto min_epochs = trainer_.min_epochs();
  const auto min_steps = trainer_.min_steps();
  const bool met_epochs = !min_epochs || epoch_progress.current.processed >= *min_epochs;
  const bool met_steps = !min_steps || epoch_loop.global_step() >= *min_steps;
  return met_epochs && met_steps;
}

bool FitLoop::done() {
  auto& t = trainer_;
  auto stop = [](const std::string& why) {
    std::cerr << "`Trainer.fit` stopped: " << why << std::endl;
    return true;
  };
  if (t.max_epochs() == 0) return stop("`max_epochs=0` reached.");
  if (t.num_training_batches() == 0) return stop("No training batches.");
  if (t.max_steps() >= 0 && epoch_loop.global_step() >= t.max_steps())
    return stop(fmt::format("`max_steps={}` reached.", t.max_steps()));
  const auto max_epochs = t.max_epochs().value_or(-1);
  if (max_epochs >= 0 && epoch_progress.current.processed >= max_epochs)
    return stop(fmt::format("`max_epochs={}` reached.", max_epochs));
  if (t.should_stop) {
    if (can_stop_early()) return stop("`trainer.should_stop` was set.");
    std::cerr << fmt::format(
                     "Trainer was signaled to stop but the required `min_epochs={}` or `min_steps={}` has not been "
                     "met. Training will continue...",
                     t.min_epochs() ? std::to_string(*t.min_epochs()) : "None",
                     t.min_steps() ? std::to_string(*t.min_steps()) : "None")
              << std::endl;
  }
  return false;
}

void FitLoop::run_sanity_check() {
  // Training must see the same randomness whether or not a sanity check ran.
  IsolateRng isolate;
  auto& t = trainer_;
  auto& module = t.lightning_module();
  const auto previous = t.state_.stage;
  t.set_stage(RunningStage::SanityChecking);
  t.call_callbacks("on_sanity_check_start", [&](Callback& c) { c.on_sanity_check_start(t, module); });
  t.reset_val_dataloaders();
  if (t.enable_validation()) epoch_loop.val_loop.run(t.val_dataloaders_, t.num_sanity_val_batches_);
  t.call_callbacks("on_sanity_check_end", [&](Callback& c) { c.on_sanity_check_end(t, module); });
  // What the sanity check logged must not leak into training (Lightning resets both).
  epoch_loop.val_loop.results().reset();
  t.logger_connector().reset_metrics();
  t.set_stage(previous);
}

void FitLoop::run() {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  if (t.enable_validation() && t.options().num_sanity_val_steps > 0) run_sanity_check();
  t.set_stage(RunningStage::Training);
  t.active_results_ = &epoch_loop.results;
  t.reset_train_dataloader();
  if (!t.val_loaded_ && t.enable_validation()) t.reset_val_dataloaders();
  if (restored_loader_seed_) t.train_dataloader_->set_seed(*std::exchange(restored_loader_seed_, std::nullopt));
  if (done()) return;  // Lightning skips the loop, train hooks included.
  t.call_hooks(
      "on_train_start", [&](Callback& c) { c.on_train_start(t, module); },
      [&](LightningModule& m) { m.on_train_start(); });
  int64_t last_reload_epoch = current_epoch();
  do {
    const int64_t n = t.options().reload_dataloaders_every_n_epochs;
    if (n > 0 && current_epoch() - last_reload_epoch >= n) {
      t.reset_train_dataloader();
      last_reload_epoch = current_epoch();
    }
    auto& loader = *t.train_dataloader_;
    loader.set_epoch(current_epoch());
    epoch_loop.results.reset();
    epoch_progress.increment_ready();
    t.logger_connector().on_epoch_start();
    t.call_hooks(
        "on_train_epoch_start", [&](Callback& c) { c.on_train_epoch_start(t, module); },
        [&](LightningModule& m) { m.on_train_epoch_start(); });
    epoch_progress.increment_started();

    epoch_loop.run(loader);

    epoch_progress.increment_processed();
    t.logger_connector().epoch_end_reached();
    // Callbacks first, except those that monitor metrics: they run after the module so they
    // can see what it logged in on_train_epoch_end (Lightning's order).
    t.call_callbacks("on_train_epoch_end", [&](Callback& c) {
      if (!c.monitors_metrics()) c.on_train_epoch_end(t, module);
    });
    t.call_module("on_train_epoch_end", [](LightningModule& m) { m.on_train_epoch_end(); });
    t.call_callbacks("on_train_epoch_end", [&](Callback& c) {
      if (c.monitors_metrics()) c.on_train_epoch_end(t, module);
    });
    if (epoch_loop.num_ready_batches_reached()) epoch_loop.update_lr_schedulers("epoch", true);
    t.logger_connector().update_train_epoch_metrics();
    epoch_progress.increment_completed();
  } while (!done());
  t.call_hooks(
      "on_train_end", [&](Callback& c) { c.on_train_end(t, module); }, [&](LightningModule& m) { m.on_train_end(); });
}

}  // namespace lightning

namespace lightning {
namespace {

/// Lightning's optimizer progress: steps and zero_grad calls, counted ready/completed.
Dict optimizer_progress(int64_t steps) {
  auto counts = [&] {
    Dict d = new_dict();
    d.insert("ready", steps);
    d.insert("completed", steps);
    return d;
  };
  auto tracker = [&] {
    Dict d = new_dict();
    d.insert("total", counts());
    d.insert("current", counts());
    return d;
  };
  Dict optimizer = new_dict();
  optimizer.insert("step", tracker());
  optimizer.insert("zero_grad", tracker());
  Dict out = new_dict();
  out.insert("optimizer", optimizer);
  return out;
}

Dict dict_in(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "checkpoint loops.fit_loop");
  if (!v.isGenericDict()) throw CheckpointError(fmt::format("checkpoint loops.fit_loop: '{}' is not a dict", key));
  return v.toGenericDict();
}

/// Marks every event of the tracker as completed up to its processed count.
void settle(ProgressTracker& t) { t.ready = t.started = t.completed = t.processed; }

}  // namespace

Dict FitLoop::state_dict() const {
  const auto& el = epoch_loop;
  Dict state = new_dict();
  if (trainer_.train_dataloader_) state.insert("train_dataloader_seed", static_cast<int64_t>(trainer_.train_dataloader_->seed()));
  Dict fit = new_dict();
  fit.insert("state_dict", state);

  Dict epoch_state = new_dict();
  epoch_state.insert("_batches_that_stepped", el.batches_that_stepped + (el.step_pending ? 1 : 0));
  // Saved from on_train_batch_end: validation due after this batch has not run yet.
  const bool in_batch_end = std::string_view(trainer_.current_fx()) == "on_train_batch_end";
  epoch_state.insert("_resume_validation", in_batch_end && el.should_check_val());
  fit.insert("epoch_loop.state_dict", epoch_state);

  BatchProgress batches = el.batch_progress;
  settle(batches.total);
  settle(batches.current);
  fit.insert("epoch_loop.batch_progress", batches.state_dict());
  fit.insert("epoch_loop.automatic_optimization.optim_progress", optimizer_progress(el.global_step()));
  fit.insert("epoch_loop.val_loop.state_dict", new_dict());
  fit.insert("epoch_loop.val_loop.batch_progress", el.val_loop.batch_progress.state_dict());

  // Saved from the epoch's end hooks (all batches processed): the epoch counts as completed.
  Progress epochs = epoch_progress;
  if (epochs.current.processed > epochs.current.completed) {
    settle(epochs.total);
    settle(epochs.current);
  }
  fit.insert("epoch_progress", epochs.state_dict());
  return fit;
}

void FitLoop::load_state_dict(const Dict& fit) {
  epoch_progress.load_state_dict(dict_in(fit, "epoch_progress"));
  epoch_loop.batch_progress.load_state_dict(dict_in(fit, "epoch_loop.batch_progress"));
  auto epoch_state = dict_in(fit, "epoch_loop.state_dict");
  epoch_loop.batches_that_stepped = dict_at(epoch_state, "_batches_that_stepped", "loops.fit_loop").toInt();
  epoch_loop.step_pending = false;
  auto optim = dict_in(dict_in(fit, "epoch_loop.automatic_optimization.optim_progress"), "optimizer");
  epoch_loop.optimization.optimizer_steps =
      dict_at(dict_in(dict_in(optim, "step"), "total"), "completed", "loops.fit_loop").toInt();

  const bool mid_epoch = epoch_progress.current.ready > epoch_progress.current.processed;
  if (mid_epoch) {
    // The epoch restarts (its start hooks run again) and skips the batches already trained.
    epoch_progress.total.ready = epoch_progress.total.started = epoch_progress.total.processed;
    epoch_progress.current.ready = epoch_progress.current.started = epoch_progress.current.processed;
    epoch_loop.resume_batch = epoch_loop.batch_progress.current.processed;
    auto it = epoch_state.find("_resume_validation");
    epoch_loop.resume_validation = it != epoch_state.end() && it->value().isBool() && it->value().toBool();
  } else {
    // Saved at an epoch's end, by us or by Lightning (which leaves `completed` one behind).
    settle(epoch_progress.total);
    settle(epoch_progress.current);
    epoch_loop.batch_progress.reset_current();
    epoch_loop.resume_batch = 0;
    epoch_loop.resume_validation = false;
  }
  auto state = dict_in(fit, "state_dict");
  auto seed = state.find("train_dataloader_seed");
  restored_loader_seed_.reset();
  if (seed != state.end() && seed->value().isInt()) restored_loader_seed_ = static_cast<uint64_t>(seed->value().toInt());
}

}  // namespace lightning
