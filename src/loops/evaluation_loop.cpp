#include "lightning/loops/evaluation_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/core/module.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/precision/precision.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "loops/data_setup.h"
#include "loops/grad_mode.h"
#include "trainer/resolved_options.h"
#include "trainer/signals.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <numeric>

namespace lightning {
namespace {

/// Remembers each submodule's train/eval mode so evaluation can restore it exactly (a frozen
/// submodule in eval mode stays in eval mode after validation).
std::vector<bool> training_modes(torch::nn::Module& module) {
  std::vector<bool> modes;
  for (const auto& m : module.modules()) modes.push_back(m->is_training());
  return modes;
}

void restore_modes(torch::nn::Module& module, const std::vector<bool>& modes) {
  // modules() is pre-order and train() recurses, so applying parents first and then each
  // descendant leaves every module with exactly its own saved flag.
  auto all = module.modules();
  for (size_t i = 0; i < all.size() && i < modes.size(); ++i) all[i]->train(modes[i]);
}

using RunHook = void (Callback::*)(Trainer&, LightningModule&);
using ModuleHook = void (LightningModule::*)();
using BatchStartHook = void (Callback::*)(Trainer&, LightningModule&, const Batch&, int64_t, int64_t);
using ModuleBatchStartHook = void (LightningModule::*)(const Batch&, int64_t, int64_t);
using BatchEndHook = void (Callback::*)(Trainer&, LightningModule&, const StepOutput&, const Batch&, int64_t, int64_t);
using ModuleBatchEndHook = void (LightningModule::*)(const StepOutput&, const Batch&, int64_t, int64_t);
using StepFn = StepOutput (strategies::Strategy::*)(const Batch&, int64_t, int64_t);

/// A hook that both callbacks and the module have, by name.
template <typename CallbackFn, typename ModuleFn>
struct HookPair {
  const char* name;
  CallbackFn callback;
  ModuleFn module;
};

/// What differs between validation and test: names, hooks, the step and the limit flag.
struct EvaluationStage {
  const char* name;  // in the limit flag and messages: "val", "test"
  const char* entry_point;
  const char* step_name;
  const char* next_action;  // the profiler's name of a batch fetch
  StepFn step;
  HookPair<std::nullptr_t, ModuleHook> model_eval, model_train;
  HookPair<RunHook, ModuleHook> start, epoch_start, epoch_end, end;
  HookPair<BatchStartHook, ModuleBatchStartHook> batch_start;
  HookPair<BatchEndHook, ModuleBatchEndHook> batch_end;
  BatchLimit detail::ResolvedOptions::*limit;
};

const EvaluationStage kValidation{
    "val",
    "validate",
    "validation_step",
    "[_EvaluationLoop].val_next",
    &strategies::Strategy::validation_step,
    {"on_validation_model_eval", nullptr, &LightningModule::on_validation_model_eval},
    {"on_validation_model_train", nullptr, &LightningModule::on_validation_model_train},
    {"on_validation_start", &Callback::on_validation_start, &LightningModule::on_validation_start},
    {"on_validation_epoch_start", &Callback::on_validation_epoch_start, &LightningModule::on_validation_epoch_start},
    {"on_validation_epoch_end", &Callback::on_validation_epoch_end, &LightningModule::on_validation_epoch_end},
    {"on_validation_end", &Callback::on_validation_end, &LightningModule::on_validation_end},
    {"on_validation_batch_start", &Callback::on_validation_batch_start, &LightningModule::on_validation_batch_start},
    {"on_validation_batch_end", &Callback::on_validation_batch_end, &LightningModule::on_validation_batch_end},
    &detail::ResolvedOptions::limit_val_batches,
};

const EvaluationStage kTest{
    "test",
    "test",
    "test_step",
    "[_EvaluationLoop].test_next",
    &strategies::Strategy::test_step,
    {"on_test_model_eval", nullptr, &LightningModule::on_test_model_eval},
    {"on_test_model_train", nullptr, &LightningModule::on_test_model_train},
    {"on_test_start", &Callback::on_test_start, &LightningModule::on_test_start},
    {"on_test_epoch_start", &Callback::on_test_epoch_start, &LightningModule::on_test_epoch_start},
    {"on_test_epoch_end", &Callback::on_test_epoch_end, &LightningModule::on_test_epoch_end},
    {"on_test_end", &Callback::on_test_end, &LightningModule::on_test_end},
    {"on_test_batch_start", &Callback::on_test_batch_start, &LightningModule::on_test_batch_start},
    {"on_test_batch_end", &Callback::on_test_batch_end, &LightningModule::on_test_batch_end},
    &detail::ResolvedOptions::limit_test_batches,
};

const EvaluationStage& stage_table(RunningStage stage) {
  return stage == RunningStage::Testing ? kTest : kValidation;
}

void call_module_hook(Trainer& t, const HookPair<std::nullptr_t, ModuleHook>& hook) {
  t.call_module(hook.name, [&](LightningModule& m) { (m.*hook.module)(); });
}

void call_run_hooks(Trainer& t, LightningModule& module, const HookPair<RunHook, ModuleHook>& hook) {
  t.call_hooks(
      hook.name, [&](Callback& c) { (c.*hook.callback)(t, module); }, [&](LightningModule& m) { (m.*hook.module)(); });
}

}  // namespace

EvaluationLoop::EvaluationLoop(Trainer& trainer, RunningStage stage) : trainer_(trainer), stage_(stage) {}

void EvaluationLoop::reset_data() {
  dataloaders_.clear();
  max_batches_.clear();
  loaded_ = false;
}

void EvaluationLoop::setup_data() {
  auto& t = trainer_;
  const auto& o = t.options();
  const auto& stage = stage_table(stage_);
  const int64_t epoch = t.current_epoch();
  if (!detail::reload_due(loaded_, o.reload_dataloaders_every_n_epochs, last_reload_epoch_, epoch)) return;
  dataloaders_ = t.request_dataloaders(stage_).loaders;
  loaded_ = true;
  last_reload_epoch_ = epoch;
  logged_steps_.clear();  // new dataloaders: the steps of step-level rows start again at 0 (Lightning)
  max_batches_.clear();
  if (dataloaders_.empty() && !t.runs_fit_loop())
    detail::throw_no_dataloader(stage.name, stage.entry_point);
  const bool validating = stage_ == RunningStage::Validating;
  for (auto& loader : dataloaders_) {
    if (validating) loader = detail::maybe_without_shuffle(loader, o.overfit, "validation");
    max_batches_.push_back(detail::num_batches_under_limit(stage.name, detail::loader_length(loader), o.*stage.limit));
  }
}

std::vector<int64_t> EvaluationLoop::sanity_check_batches() const {
  std::vector<int64_t> batches;
  for (int64_t n : max_batches_) batches.push_back(std::min(trainer_.options().num_sanity_val_steps, n));
  return batches;
}

std::vector<std::map<std::string, double>> EvaluationLoop::run(bool sanity_check) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  const auto num_batches = sanity_check ? sanity_check_batches() : max_batches_;
  if (!step_available || std::accumulate(num_batches.begin(), num_batches.end(), int64_t{0}) == 0) return {};
  const auto& stage = stage_table(stage_);
  const auto previous_stage = t.state().stage;
  auto* previous_results = t.results();
  if (previous_stage != RunningStage::SanityChecking) {
    t.set_stage(stage_);
    has_run = true;
  }
  t.set_active_results(&results_);
  t.num_eval_dataloaders = static_cast<int64_t>(dataloaders_.size());
  results_.reset();
  batch_progress.reset_current();  // `current` counts this run's batches, over all its dataloaders
  logged_steps_.resize(std::max(logged_steps_.size(), dataloaders_.size()), 0);

  const auto modes = training_modes(module);
  call_module_hook(t, stage.model_eval);
  std::vector<std::map<std::string, double>> outputs;
  {
    detail::EvaluationGradGuard no_grad(t.options().inference_mode);
    call_run_hooks(t, module, stage.start);
    t.logger_connector().on_epoch_start();
    call_run_hooks(t, module, stage.epoch_start);
    try {
      for (size_t i = 0; i < dataloaders_.size(); ++i)
        if (num_batches[i] > 0) run_dataloader(dataloaders_[i], static_cast<int64_t>(i), num_batches[i]);
    } catch (const detail::StepNotOverridden&) {
      if (!t.runs_fit_loop())
        throw MisconfigurationException(fmt::format(
            "No `{0}()` method defined to run `Trainer.{1}`; accepted: a LightningModule that overrides {0}",
            stage.step_name, stage.entry_point));
      rank_zero_info("You passed in a val dataloader but have no `validation_step`. Skipping val loop.");
      step_available = false;
    }
    t.eval_dataloader_idx = -1;
    if (step_available) {
      t.logger_connector().epoch_end_reached();
      call_run_hooks(t, module, stage.epoch_end);
      t.logger_connector().update_eval_epoch_metrics(results_);
      outputs = epoch_outputs(dataloaders_.size());
      call_run_hooks(t, module, stage.end);
    }
  }
  // After every evaluation run: the user's hook, or else each submodule's mode from before.
  try {
    call_module_hook(t, stage.model_train);
  } catch (const detail::StepNotOverridden&) {
    restore_modes(module, modes);
  }
  t.set_active_results(previous_results);
  t.set_stage(previous_stage);
  return outputs;
}

void EvaluationLoop::run_dataloader(DataLoader& loader, int64_t dataloader_idx, int64_t num_batches) {
  auto& t = trainer_;
  t.eval_dataloader_idx = dataloader_idx;
  const char* next_action = stage_table(stage_).next_action;
  auto it = [&] {
    auto timed = t.profile(next_action);
    return loader.begin();
  }();
  const auto end = loader.end();
  for (int64_t batch_idx = 0; batch_idx < num_batches && it != end; ++batch_idx) {
    Batch batch = std::move(*it);
    batch_progress.is_last_batch = batch_idx + 1 == num_batches;
    evaluation_step(batch, batch_idx, dataloader_idx);
    detail::raise_if_interrupted();
    if (batch_idx + 1 < num_batches) {
      auto timed = t.profile(next_action);
      ++it;
    }
  }
}

void EvaluationLoop::evaluation_step(const Batch& input, int64_t batch_idx, int64_t dataloader_idx) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  const auto& stage = stage_table(stage_);
  batch_progress.increment_ready();
  t.logger_connector().on_batch_start(results_);
  Batch batch = t.call_strategy("batch_to_device",
                                [&](strategies::Strategy& s) { return s.batch_to_device(input, dataloader_idx); });
  t.current_batch_size = batch.batch_size();
  t.call_hooks(
      stage.batch_start.name,
      [&](Callback& c) { (c.*stage.batch_start.callback)(t, module, batch, batch_idx, dataloader_idx); },
      [&](LightningModule& m) { (m.*stage.batch_start.module)(batch, batch_idx, dataloader_idx); });
  batch_progress.increment_started();
  StepOutput output = t.call_strategy(stage.step_name, [&](strategies::Strategy& s) {
    return (s.*stage.step)(batch, batch_idx, dataloader_idx);
  });
  batch_progress.increment_processed();
  t.call_hooks(
      stage.batch_end.name,
      [&](Callback& c) { (c.*stage.batch_end.callback)(t, module, output, batch, batch_idx, dataloader_idx); },
      [&](LightningModule& m) { (m.*stage.batch_end.module)(output, batch, batch_idx, dataloader_idx); });
  t.logger_connector().on_batch_end(results_);
  batch_progress.increment_completed();
  // The sanity check logs no rows and counts no step (Lightning's rows start at 0 after it).
  if (!t.sanity_checking())
    t.logger_connector().update_eval_step_metrics(results_, logged_steps_[static_cast<size_t>(dataloader_idx)]++);
}

std::vector<std::map<std::string, double>> EvaluationLoop::epoch_outputs(size_t num_dataloaders) {
  // Each dataloader gets the metrics logged for it ("/dataloader_idx_N") and those without a
  // dataloader suffix, as Lightning's `validate`/`test` return them.
  std::vector<std::map<std::string, double>> outputs(num_dataloaders);
  auto views = results_.metrics(false);
  for (const auto& [key, value] : views.callback) {
    auto pos = key.find("/dataloader_idx_");
    for (size_t i = 0; i < num_dataloaders; ++i) {
      if (pos == std::string::npos || key.substr(pos) == fmt::format("/dataloader_idx_{}", i))
        outputs[i][key] = value.item<double>();
    }
  }
  return outputs;
}

}  // namespace lightning
