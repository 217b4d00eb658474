#include "lightning/loops/prediction_loop.h"

#include "lightning/callbacks/callback.h"
#include "lightning/core/module.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "loops/data_setup.h"
#include "loops/grad_mode.h"
#include "trainer/resolved_options.h"
#include "trainer/signals.h"

#include <numeric>

namespace lightning {

void PredictionLoop::reset_data() {
  dataloaders_.clear();
  max_batches_.clear();
}

void PredictionLoop::setup_data() {
  auto& t = trainer_;
  dataloaders_ = t.request_dataloaders(RunningStage::Predicting).loaders;
  if (dataloaders_.empty()) detail::throw_no_dataloader("predict", "predict");
  max_batches_.clear();
  for (const auto& loader : dataloaders_)
    max_batches_.push_back(
        detail::num_batches_under_limit("predict", detail::loader_length(loader), t.options().limit_predict_batches));
}

std::vector<std::vector<torch::IValue>> PredictionLoop::run(bool return_predictions) {
  auto& t = trainer_;
  auto& loaders = dataloaders_;
  const auto& num_batches = max_batches_;
  auto& module = t.lightning_module();
  std::vector<std::vector<torch::IValue>> predictions(loaders.size());
  if (std::accumulate(num_batches.begin(), num_batches.end(), int64_t{0}) == 0) return predictions;
  t.num_eval_dataloaders = static_cast<int64_t>(loaders.size());
  t.call_module("on_predict_model_eval", [](LightningModule& m) { m.on_predict_model_eval(); });
  detail::EvaluationGradGuard no_grad(t.options().inference_mode);
  t.call_hooks(
      "on_predict_start", [&](Callback& c) { c.on_predict_start(t, module); },
      [](LightningModule& m) { m.on_predict_start(); });
  t.call_hooks(
      "on_predict_epoch_start", [&](Callback& c) { c.on_predict_epoch_start(t, module); },
      [](LightningModule& m) { m.on_predict_epoch_start(); });
  batch_progress.reset_current();  // this run's batches, over all its dataloaders (totals accumulate)
  for (size_t i = 0; i < loaders.size(); ++i) {
    const auto dl = static_cast<int64_t>(i);
    t.eval_dataloader_idx = dl;
    constexpr const char* kNextAction = "[_PredictionLoop].predict_next";  // the profiler's name of a fetch
    auto it = [&] {
      auto timed = t.profile(kNextAction);
      return loaders[i].begin();
    }();
    const auto end = loaders[i].end();
    for (int64_t batch_idx = 0; batch_idx < num_batches[i] && it != end; ++batch_idx) {
      batch_progress.increment_ready();
      batch_progress.is_last_batch = batch_idx + 1 == num_batches[i];
      Batch batch = t.call_strategy(
          "batch_to_device", [&](strategies::Strategy& s) { return s.batch_to_device(std::move(*it), dl); });
      t.current_batch_size = batch.batch_size();
      t.call_hooks(
          "on_predict_batch_start", [&](Callback& c) { c.on_predict_batch_start(t, module, batch, batch_idx, dl); },
          [&](LightningModule& m) { m.on_predict_batch_start(batch, batch_idx, dl); });
      batch_progress.increment_started();
      torch::IValue output;
      try {
        output = t.call_strategy(
            "predict_step", [&](strategies::Strategy& s) { return s.predict_step(batch, batch_idx, dl); });
      } catch (const detail::StepNotOverridden&) {
        throw MisconfigurationException(
            "No `predict_step()` method defined to run `Trainer.predict`, and the default predict_step needs "
            "`forward()`; accepted: override predict_step or forward");
      }
      batch_progress.increment_processed();
      t.call_hooks(
          "on_predict_batch_end",
          [&](Callback& c) { c.on_predict_batch_end(t, module, output, batch, batch_idx, dl); },
          [&](LightningModule& m) { m.on_predict_batch_end(output, batch, batch_idx, dl); });
      batch_progress.increment_completed();
      if (return_predictions) predictions[i].push_back(std::move(output));
      detail::raise_if_interrupted();
      if (batch_idx + 1 < num_batches[i]) {
        auto timed = t.profile(kNextAction);
        ++it;
      }
    }
  }
  t.eval_dataloader_idx = -1;
  t.call_hooks(
      "on_predict_epoch_end", [&](Callback& c) { c.on_predict_epoch_end(t, module); },
      [](LightningModule& m) { m.on_predict_epoch_end(); });
  t.call_hooks(
      "on_predict_end", [&](Callback& c) { c.on_predict_end(t, module); },
      [](LightningModule& m) { m.on_predict_end(); });
  return predictions;
}

}  // namespace lightning
