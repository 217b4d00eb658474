#include "lightning/loops/fit_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/seed.h"
#include "trainer/resolved_options.h"

#include <fmt/format.h>

#include <iostream>

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
  if (done()) return;  // Lightning skips the loop, train hooks included.
  t.call_hooks(
      "on_train_start", [&](Callback& c) { c.on_train_start(t, module); },
      [&](LightningModule& m) { m.on_train_start(); });
  int64_t last_reload_epoch = 0;
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
    t.logger_connector().update_train_epoch_metrics();
    epoch_progress.increment_completed();
  } while (!done());
  t.call_hooks(
      "on_train_end", [&](Callback& c) { c.on_train_end(t, module); }, [&](LightningModule& m) { m.on_train_end(); });
}

}  // namespace lightning
