#include "lightning/loops/fit_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/core/module.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "lightning/utilities/seed.h"
#include "loops/data_setup.h"
#include "trainer/resolved_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <utility>

namespace lightning {

FitLoop::FitLoop(Trainer& trainer) : epoch_loop(trainer), trainer_(trainer) {}

bool FitLoop::can_stop_early() const {
  const auto min_epochs = trainer_.min_epochs();
  const auto min_steps = trainer_.min_steps();
  const bool met_epochs = epoch_progress.current.processed >= min_epochs;
  const bool met_steps = !min_steps || epoch_loop.global_step() >= *min_steps;
  return met_epochs && met_steps;
}

bool FitLoop::done() {
  auto& t = trainer_;
  auto stop = [](const std::string& why) {
    rank_zero_info(std::string("`Trainer.fit` stopped: ") + why);
    return true;
  };
  if (t.max_epochs() == 0) return stop("`max_epochs=0` reached.");
  if (t.num_training_batches() == 0) return stop("No training batches.");
  if (t.max_steps() >= 0 && epoch_loop.global_step() >= t.max_steps())
    return stop(fmt::format("`max_steps={}` reached.", t.max_steps()));
  const auto max_epochs = t.max_epochs();
  if (max_epochs >= 0 && epoch_progress.current.processed >= max_epochs)
    return stop(fmt::format("`max_epochs={}` reached.", max_epochs));
  if (t.should_stop) {
    if (can_stop_early()) return stop("`trainer.should_stop` was set.");
    rank_zero_info(fmt::format(
        "Trainer was signaled to stop but the required `min_epochs={}` or `min_steps={}` has not been "
        "met. Training will continue...",
        t.min_epochs(),
        t.min_steps() ? std::to_string(*t.min_steps()) : "None"));
  }
  return false;
}

void FitLoop::reset_data() {
  train_dataloader_.reset();
  num_training_batches_ = 0;
}

void FitLoop::setup_data() {
  auto& t = trainer_;
  const auto& o = t.options();
  const int64_t epoch = current_epoch();
  if (!detail::reload_due(train_dataloader_.has_value(), o.reload_dataloaders_every_n_epochs, last_reload_epoch_,
                          epoch))
    return;
  auto loaders = t.request_dataloaders(RunningStage::Training);
  if (loaders.empty())
    throw MisconfigurationException(
        "No train dataloader was found; accepted: one passed to fit(), a datamodule whose train_dataloader() "
        "returns one, or a LightningModule::train_dataloader() override that returns one");
  if (loaders.size() > 1)
    throw MisconfigurationException(fmt::format(
        "{} train dataloaders were given; accepted: exactly one (combined train loaders are not supported yet)",
        loaders.size()));
  train_dataloader_ = detail::maybe_without_shuffle(loaders.loaders.front(), o.overfit, "training");
  last_reload_epoch_ = epoch;
  num_training_batches_ =
      detail::num_batches_under_limit("train", detail::loader_length(*train_dataloader_), o.limit_train_batches);

  // Lightning's val_check_batch: an int interval counts batches, a float is a fraction of the epoch.
  const auto& interval = o.val_check_interval;
  if (interval.is_count()) {
    val_check_batch_ = std::get<int64_t>(interval.value);
    if (val_check_batch_ > num_training_batches_ && o.check_val_every_n_epoch)
      throw MisconfigurationException(fmt::format(
          "val_check_interval={} must be less than or equal to the number of training batches ({}); accepted: an "
          "int <= {}, a float fraction, limit_val_batches=0 to disable validation, or check_val_every_n_epoch unset "
          "(std::nullopt) to validate every val_check_interval batches across epochs",
          val_check_batch_, num_training_batches_, num_training_batches_));
  } else if (num_training_batches_ == detail::kUnbounded) {
    if (std::get<double>(interval.value) != 1.0)
      throw MisconfigurationException(fmt::format(
          "val_check_interval={} is invalid for a train dataloader without a length (IterableDataset); accepted: "
          "1.0 or an int number of batches",
          interval.str()));
    val_check_batch_ = detail::kUnbounded;
  } else {
    val_check_batch_ = std::max<int64_t>(
        1, static_cast<int64_t>(static_cast<double>(num_training_batches_) * std::get<double>(interval.value)));
  }
  if (!t.loggers().empty() && num_training_batches_ < o.log_every_n_steps && o.fast_dev_run == 0)
    rank_zero_info(fmt::format(
        "The number of training batches ({}) is smaller than the logging interval "
        "Trainer(log_every_n_steps={}). Set a lower value for log_every_n_steps if you want to see logs "
        "for the training epoch.",
        num_training_batches_, o.log_every_n_steps));
}

void FitLoop::run_sanity_check() {
  // Training must see the same randomness whether or not a sanity check ran.
  IsolateRng isolate;
  auto& t = trainer_;
  auto& module = t.lightning_module();
  auto& val_loop = epoch_loop.val_loop;
  const auto previous = t.state().stage;
  t.set_stage(RunningStage::SanityChecking);
  t.call_callbacks("on_sanity_check_start", [&](Callback& c) { c.on_sanity_check_start(t, module); });
  val_loop.setup_data();
  if (t.enable_validation()) val_loop.run(/*sanity_check=*/true);
  t.call_callbacks("on_sanity_check_end", [&](Callback& c) { c.on_sanity_check_end(t, module); });
  // What the sanity check logged and counted must not leak into training (Lightning resets them).
  val_loop.results().reset();
  val_loop.batch_progress = BatchProgress{};
  t.logger_connector().reset_metrics();
  t.set_stage(previous);
}

void FitLoop::run() {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  if (t.enable_validation() && t.options().num_sanity_val_steps > 0) run_sanity_check();
  t.set_stage(RunningStage::Training);
  t.set_active_results(&epoch_loop.results);
  // Lightning skips the fit loop without asking for a train dataloader.
  if (t.options().limit_train_batches.is_zero()) return;
  setup_data();
  if (!epoch_loop.val_loop.data_loaded() && t.enable_validation()) {
    // Early, for the epoch bar's total; under the stage Lightning requests them in.
    t.set_stage(RunningStage::Validating);
    epoch_loop.val_loop.setup_data();
    t.set_stage(RunningStage::Training);
  }
  if (restored_loader_seed_) train_dataloader_->set_seed(*std::exchange(restored_loader_seed_, std::nullopt));
  if (done()) return;  // Lightning skips the loop, train hooks included.
  t.call_hooks(
      "on_train_start", [&](Callback& c) { c.on_train_start(t, module); },
      [&](LightningModule& m) { m.on_train_start(); });
  do {
    setup_data();  // again when reload_dataloaders_every_n_epochs says so
    auto& loader = *train_dataloader_;
    loader.set_epoch(current_epoch());
    epoch_loop.results.reset();
    epoch_progress.increment_ready();
    t.logger_connector().on_epoch_start();
    t.call_hooks(
        "on_train_epoch_start", [&](Callback& c) { c.on_train_epoch_start(t, module); },
        [&](LightningModule& m) { m.on_train_epoch_start(); });
    epoch_progress.increment_started();

    {
      auto timed = t.profile("run_training_epoch");
      epoch_loop.run(loader);
    }

    epoch_progress.increment_processed();
    t.logger_connector().epoch_end_reached();
    // Callbacks first, except those that monitor metrics: they run after the module so they
    // can see what it logged in on_train_epoch_end (Lightning's order).
    auto epoch_end = [&](Callback& c) { c.on_train_epoch_end(t, module); };
    t.call_callbacks("on_train_epoch_end", epoch_end, [](const Callback& c) { return !c.monitors_metrics(); });
    t.call_module("on_train_epoch_end", [](LightningModule& m) { m.on_train_epoch_end(); });
    t.call_callbacks("on_train_epoch_end", epoch_end, [](const Callback& c) { return c.monitors_metrics(); });
    if (epoch_loop.num_ready_batches_reached()) epoch_loop.update_lr_schedulers("epoch", true);
    t.logger_connector().update_train_epoch_metrics(epoch_loop.results);
    epoch_progress.increment_completed();
  } while (!done());
  t.call_hooks(
      "on_train_end", [&](Callback& c) { c.on_train_end(t, module); }, [&](LightningModule& m) { m.on_train_end(); });
}

}  // namespace lightning

namespace lightning {
namespace {

Dict dict_in(const Dict& d, const char* key) {
  auto v = dict_at(d, key, "the loop state");
  if (!v.isGenericDict()) throw CheckpointError(fmt::format("'{}' is a {}, expected a dict", key, v.tagKind()));
  return v.toGenericDict();
}

/// `key` of `d` into `progress`, when Lightning's version of the file has it.
template <typename P>
void load_if_present(P& progress, const Dict& d, const char* key) {
  if (d.contains(key)) progress.load_state_dict(dict_in(d, key));
}

bool bool_in(const Dict& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->value().isBool() && it->value().toBool();
}

}  // namespace

// Lightning 2.x's keys in its order, with its counter values: a checkpoint taken in a hook
// shows that hook's batch or epoch as not completed yet. Our own extras (what an exact resume
// needs beyond Lightning's counters) live under "lightning_cpp", which Lightning ignores.
Dict FitLoop::state_dict() const {
  const auto& el = epoch_loop;
  const auto& opt = el.optimization;
  Dict fit = new_dict();
  fit.insert("state_dict", new_dict());
  Dict epoch_state = new_dict();
  epoch_state.insert("_batches_that_stepped", el.batches_that_stepped);
  fit.insert("epoch_loop.state_dict", epoch_state);
  fit.insert("epoch_loop.batch_progress", el.batch_progress.state_dict());
  fit.insert("epoch_loop.scheduler_progress", el.scheduler_progress.state_dict());
  fit.insert("epoch_loop.automatic_optimization.state_dict", new_dict());
  Dict optimizer = new_dict();
  optimizer.insert("step", opt.step_progress.state_dict());
  optimizer.insert("zero_grad", opt.zero_grad_progress.state_dict());
  Dict optim_progress = new_dict();
  optim_progress.insert("optimizer", optimizer);
  fit.insert("epoch_loop.automatic_optimization.optim_progress", optim_progress);
  fit.insert("epoch_loop.manual_optimization.state_dict", new_dict());
  fit.insert("epoch_loop.manual_optimization.optim_step_progress", opt.manual_step_progress.state_dict());
  fit.insert("epoch_loop.val_loop.state_dict", new_dict());
  fit.insert("epoch_loop.val_loop.batch_progress", el.val_loop.batch_progress.state_dict());
  fit.insert("epoch_progress", epoch_progress.state_dict());

  Dict extras = new_dict();
  if (train_dataloader_) extras.insert("train_dataloader_seed", static_cast<int64_t>(train_dataloader_->seed()));
  // The running batch's step counts in _batches_that_stepped once its hooks and validation ran.
  extras.insert("step_pending", el.step_pending);
  // Saved from on_train_batch_end: validation due after this batch has not run yet.
  const bool in_batch_end = std::string_view(trainer_.current_fx()) == "on_train_batch_end";
  extras.insert("resume_validation", in_batch_end && el.should_check_val());
  fit.insert("lightning_cpp", extras);
  return fit;
}

void FitLoop::load_state_dict(const Dict& fit) {
  auto& el = epoch_loop;
  auto& opt = el.optimization;
  epoch_progress.load_state_dict(dict_in(fit, "epoch_progress"));
  el.batch_progress.load_state_dict(dict_in(fit, "epoch_loop.batch_progress"));
  load_if_present(el.scheduler_progress, fit, "epoch_loop.scheduler_progress");
  auto optimizer = dict_in(dict_in(fit, "epoch_loop.automatic_optimization.optim_progress"), "optimizer");
  opt.step_progress.load_state_dict(dict_in(optimizer, "step"));
  load_if_present(opt.zero_grad_progress, optimizer, "zero_grad");
  load_if_present(opt.manual_step_progress, fit, "epoch_loop.manual_optimization.optim_step_progress");
  load_if_present(el.val_loop.batch_progress, fit, "epoch_loop.val_loop.batch_progress");
  auto batches = dict_at(dict_in(fit, "epoch_loop.state_dict"), "_batches_that_stepped", "the loop state");
  if (!batches.isInt())
    throw CheckpointError(fmt::format("'epoch_loop.state_dict._batches_that_stepped' is a {}, expected an int",
                                      batches.tagKind()));
  el.batches_that_stepped = batches.toInt();
  std::optional<Dict> extras;
  if (fit.contains("lightning_cpp")) extras = dict_in(fit, "lightning_cpp");

  el.step_pending = extras && bool_in(*extras, "step_pending");
  el.resume_validation = false;
  el.finish_interrupted_batch = false;
  auto& batch = el.batch_progress;
  const bool mid_epoch = epoch_progress.current.ready > epoch_progress.current.processed;
  if (mid_epoch) {
    // The epoch restarts (its start hooks run again) and skips the batches already trained; a
    // batch whose end hooks were running when the file was written counts as trained.
    const bool in_batch_end = batch.current.processed > batch.current.completed;
    if (extras)
      el.resume_validation = bool_in(*extras, "resume_validation");
    else
      el.finish_interrupted_batch = in_batch_end;  // Lightning's file: decided once the loader is known
    for (ProgressTracker* t : {&batch.total, &batch.current}) t->ready = t->started = t->completed = t->processed;
    for (ProgressTracker* t : {&epoch_progress.total, &epoch_progress.current}) t->ready = t->started = t->processed;
    el.resume_batch = batch.current.processed;
  } else {
    // Saved at an epoch's end (Lightning, and we, leave `completed` one behind there).
    for (ProgressTracker* t : {&epoch_progress.total, &epoch_progress.current})
      t->ready = t->started = t->completed = t->processed;
    batch.reset_current();
    el.resume_batch = 0;
  }
  restored_loader_seed_.reset();
  if (extras)
    if (auto seed = extras->find("train_dataloader_seed"); seed != extras->end() && seed->value().isInt())
      restored_loader_seed_ = static_cast<uint64_t>(seed->value().toInt());
}

}  // namespace lightning
