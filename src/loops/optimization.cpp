#include "lightning/loops/optimization.h"

#include "lightning/callbacks/callback.h"
#include "lightning/profilers/profiler.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/grads.h"
#include "trainer/resolved_options.h"

#include <fmt/format.h>

namespace lightning {

namespace {
/// Lightning's profiler action around a manual `optimizer.step()`.
constexpr const char* kManualStepAction = "optimizer_step";
}  // namespace

StepOutput AutomaticOptimization::run(const Batch& batch, int64_t batch_idx, bool accumulate) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  auto& optimizer = module.optimizers().front();
  // Gradients are cleared on the first batch of each accumulation group.
  const bool zero_grad = batch_idx % t.accumulate_grad_batches() == 0;
  StepOutput output;
  if (accumulate) {
    // Lightning's `_block_parallel_sync_behavior`: gradients of micro-steps stay local.
    struct BlockedSync {
      strategies::Strategy& strategy;
      explicit BlockedSync(strategies::Strategy& s) : strategy(s) { strategy.set_backward_sync(false); }
      ~BlockedSync() { strategy.set_backward_sync(true); }
    } blocked(t.strategy());
    closure(batch, batch_idx, output, zero_grad);
    return output;
  }
  // The lambda captures one pointer, so std::function keeps it inline: no allocation per step.
  struct Step {
    AutomaticOptimization* self;
    const Batch& batch;
    int64_t batch_idx;
    StepOutput& output;
    bool zero_grad;
  } step{this, batch, batch_idx, output, zero_grad};
  std::function<torch::Tensor()> step_closure = [s = &step]() {
    return s->self->closure(s->batch, s->batch_idx, s->output, s->zero_grad);
  };
  const int64_t epoch = t.current_epoch();
  step_progress.increment_ready();
  t.call_module("optimizer_step",
                [&](LightningModule& m) { m.optimizer_step(epoch, batch_idx, optimizer, step_closure); });
  step_progress.increment_completed();
  return output;
}

bool AutomaticOptimization::manual() const { return !trainer_.lightning_module().automatic_optimization; }

void AutomaticOptimization::on_before_step() {
  if (!manual()) return;
  manual_step_progress.increment_ready();
  if (trainer_.profiling()) trainer_.profiler().start(kManualStepAction);
}

void AutomaticOptimization::on_after_step() {
  if (!manual()) return;
  if (trainer_.profiling()) trainer_.profiler().stop(kManualStepAction);
  manual_step_progress.increment_completed();
}

void AutomaticOptimization::after_closure(torch::optim::Optimizer& optimizer) {
  // As Lightning's precision plugins: after the closure's backward, on unscaled gradients.
  auto& t = trainer_;
  auto& module = t.lightning_module();
  t.call_hooks(
      "on_before_optimizer_step", [&](Callback& c) { c.on_before_optimizer_step(t, module, optimizer); },
      [&](LightningModule& m) { m.on_before_optimizer_step(optimizer); });
  if (!module.automatic_optimization) return;
  const auto& o = t.options();
  if (o.track_grad_norm != -1) {
    // Lightning 1.x's `log_grad_norm`: per step and per epoch, before clipping.
    std::map<std::string, LogValue> norms;
    for (auto& [name, norm] : grad_norm(module, o.track_grad_norm)) norms.emplace(name, std::move(norm));
    if (!norms.empty())
      t.call_module("on_before_optimizer_step",
                    [&](LightningModule& m) { m.log_dict(norms, {.on_step = true, .on_epoch = true}); });
  }
  t.call_module("configure_gradient_clipping", [&](LightningModule& m) {
    m.configure_gradient_clipping(
        optimizer, o.gradient_clip_val,
        o.gradient_clip_val ? std::optional<std::string>(o.gradient_clip_algorithm) : std::nullopt);
  });
}

torch::Tensor AutomaticOptimization::closure(const Batch& batch, int64_t batch_idx, StepOutput& output,
                                             bool zero_grad) {
  auto& t = trainer_;
  auto& module = t.lightning_module();
  auto& optimizer = *module.optimizers().front();
  try {
    output = t.call_strategy("training_step",
                             [&](strategies::Strategy& s) { return s.training_step(batch, batch_idx); });
  } catch (const detail::StepNotOverridden&) {
    throw MisconfigurationException(
        "No `training_step()` method defined: `Trainer.fit` needs at least `training_step()`, a train "
        "dataloader and `configure_optimizers()`; accepted: a LightningModule that overrides training_step");
  }
  auto loss = output.loss;
  if (loss.defined() && loss.numel() != 1)
    throw MisconfigurationException(fmt::format(
        "training_step returned a loss of shape [{}]; accepted: a scalar tensor (one element), or an empty "
        "StepOutput to skip the step",
        fmt::join(loss.sizes(), ", ")));
  if (zero_grad) {
    zero_grad_progress.increment_ready();
    t.call_hooks(
        "on_before_zero_grad", [&](Callback& c) { c.on_before_zero_grad(t, module, optimizer); },
        [&](LightningModule& m) { m.on_before_zero_grad(optimizer); });
    zero_grad_progress.increment_started();
    const int64_t epoch = t.current_epoch();
    t.call_module("optimizer_zero_grad",
                  [&](LightningModule& m) { m.optimizer_zero_grad(epoch, batch_idx, optimizer); });
    zero_grad_progress.increment_completed();
  }
  if (!loss.defined()) return loss;
  if (!loss.requires_grad())
    throw MisconfigurationException(
        "training_step returned a loss that does not require grad (was it computed under NoGradGuard or from "
        "detached tensors?); accepted: a loss computed from the module's parameters");
  const int64_t n = t.accumulate_grad_batches();
  auto scaled = n > 1 ? loss / static_cast<double>(n) : loss;
  t.call_hooks(
      "on_before_backward", [&](Callback& c) { c.on_before_backward(t, module, scaled); },
      [&](LightningModule& m) { m.on_before_backward(scaled); });
  t.call_strategy("backward", [&](strategies::Strategy& s) { s.backward(scaled, &optimizer); });
  t.call_hooks(
      "on_after_backward", [&](Callback& c) { c.on_after_backward(t, module); },
      [&](LightningModule& m) { m.on_after_backward(); });
  return scaled;
}

}  // namespace lightning
