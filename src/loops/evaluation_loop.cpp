#include "lightning/loops/evaluation_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/precision/precision.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "trainer/resolved_options.h"
#include "loops/grad_mode.h"
#include "trainer/signals.h"


#include <fmt/format.h>

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

}  // namespace

EvaluationLoop::EvaluationLoop(Trainer& trainer, RunningStage stage) : trainer_(trainer), stage_(stage) {}

std::vector<std::map<std::string, double>> EvaluationLoop::run(std::vector<DataLoader>& loaders,
                                                               const std::vector<int64_t>& num_batches) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  if (!step_available || std::accumulate(num_batches.begin(), num_batches.end(), int64_t{0}) == 0) return {};
  const bool testing = stage_ == RunningStage::Testing;
  const auto previous_stage = t.state().stage;
  auto* previous_results = t.active_results_;
  if (previous_stage != RunningStage::SanityChecking) {
    t.set_stage(stage_);
    has_run = true;
  }
  t.active_results_ = &results_;
  t.num_eval_dataloaders = static_cast<int64_t>(loaders.size());
  results_.reset();
  batch_progress.reset_current();  // `current` counts this run's batches, over all its dataloaders
  logged_steps_.resize(std::max(logged_steps_.size(), loaders.size()), 0);

  const auto modes = training_modes(module);
  t.call_module(testing ? "on_test_model_eval" : "on_validation_model_eval", [&](LightningModule& m) {
    testing ? m.on_test_model_eval() : m.on_validation_model_eval();
  });
  std::vector<std::map<std::string, double>> outputs;
  {
    detail::EvaluationGradGuard no_grad(t.options().inference_mode);
    t.call_hooks(
        testing ? "on_test_start" : "on_validation_start",
        [&](Callback& c) { testing ? c.on_test_start(t, module) : c.on_validation_start(t, module); },
        [&](LightningModule& m) { testing ? m.on_test_start() : m.on_validation_start(); });
    t.logger_connector().on_epoch_start();
    t.call_hooks(
        testing ? "on_test_epoch_start" : "on_validation_epoch_start",
        [&](Callback& c) { testing ? c.on_test_epoch_start(t, module) : c.on_validation_epoch_start(t, module); },
        [&](LightningModule& m) { testing ? m.on_test_epoch_start() : m.on_validation_epoch_start(); });
    try {
      for (size_t i = 0; i < loaders.size(); ++i)
        if (num_batches[i] > 0) run_dataloader(loaders[i], static_cast<int64_t>(i), num_batches[i]);
    } catch (const detail::StepNotOverridden&) {
      if (t.state().fn == TrainerFn::Validating)
        throw MisconfigurationException(
            "No `validation_step()` method defined to run `Trainer.validate`; accepted: a LightningModule that "
            "overrides validation_step");
      if (testing) throw MisconfigurationException(
            "No `test_step()` method defined to run `Trainer.test`; accepted: a LightningModule that overrides "
            "test_step");
      std::cerr << "You passed in a val dataloader but have no `validation_step`. Skipping val loop." << std::endl;
      step_available = false;
    }
    t.eval_dataloader_idx = -1;
    if (step_available) {
      t.logger_connector().epoch_end_reached();
      t.call_hooks(
          testing ? "on_test_epoch_end" : "on_validation_epoch_end",
          [&](Callback& c) { testing ? c.on_test_epoch_end(t, module) : c.on_validation_epoch_end(t, module); },
          [&](LightningModule& m) { testing ? m.on_test_epoch_end() : m.on_validation_epoch_end(); });
      t.logger_connector().update_eval_epoch_metrics(results_);
      outputs = epoch_outputs(loaders.size());
      t.call_hooks(
          testing ? "on_test_end" : "on_validation_end",
          [&](Callback& c) { testing ? c.on_test_end(t, module) : c.on_validation_end(t, module); },
          [&](LightningModule& m) { testing ? m.on_test_end() : m.on_validation_end(); });
    }
  }
  // After every evaluation run: the user's hook, or else each submodule's mode from before.
  try {
    t.call_module(testing ? "on_test_model_train" : "on_validation_model_train", [&](LightningModule& m) {
      testing ? m.on_test_model_train() : m.on_validation_model_train();
    });
  } catch (const detail::StepNotOverridden&) {
    restore_modes(module, modes);
  }
  t.active_results_ = previous_results;
  t.set_stage(previous_stage);
  return outputs;
}

void EvaluationLoop::run_dataloader(DataLoader& loader, int64_t dataloader_idx, int64_t num_batches) {
  auto& t = trainer_;
  t.eval_dataloader_idx = dataloader_idx;
  auto it = loader.begin();
  const auto end = loader.end();
  for (int64_t batch_idx = 0; batch_idx < num_batches && it != end; ++batch_idx) {
    Batch batch = std::move(*it);
    batch_progress.is_last_batch = batch_idx + 1 == num_batches;
    evaluation_step(batch, batch_idx, dataloader_idx);
    detail::raise_if_interrupted();
    if (batch_idx + 1 < num_batches) ++it;
  }
}

void EvaluationLoop::evaluation_step(const Batch& input, int64_t batch_idx, int64_t dataloader_idx) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  const bool testing = stage_ == RunningStage::Testing;
  batch_progress.increment_ready();
  t.logger_connector().on_batch_start(results_);
  Batch batch = t.transfer_batch(input, dataloader_idx);
  t.current_batch_size = batch.batch_size();
  t.call_hooks(
      testing ? "on_test_batch_start" : "on_validation_batch_start",
      [&](Callback& c) {
        testing ? c.on_test_batch_start(t, module, batch, batch_idx, dataloader_idx)
                : c.on_validation_batch_start(t, module, batch, batch_idx, dataloader_idx);
      },
      [&](LightningModule& m) {
        testing ? m.on_test_batch_start(batch, batch_idx, dataloader_idx)
                : m.on_validation_batch_start(batch, batch_idx, dataloader_idx);
      });
  batch_progress.increment_started();
  StepOutput output = t.call_module(testing ? "test_step" : "validation_step", [&](LightningModule& m) {
    plugins::ForwardContext autocast(t.precision_plugin(), t.device());
    return testing ? m.test_step(batch, batch_idx, dataloader_idx) : m.validation_step(batch, batch_idx, dataloader_idx);
  });
  batch_progress.increment_processed();
  t.call_hooks(
      testing ? "on_test_batch_end" : "on_validation_batch_end",
      [&](Callback& c) {
        testing ? c.on_test_batch_end(t, module, output, batch, batch_idx, dataloader_idx)
                : c.on_validation_batch_end(t, module, output, batch, batch_idx, dataloader_idx);
      },
      [&](LightningModule& m) {
        testing ? m.on_test_batch_end(output, batch, batch_idx, dataloader_idx)
                : m.on_validation_batch_end(output, batch, batch_idx, dataloader_idx);
      });
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
