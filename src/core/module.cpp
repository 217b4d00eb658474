#include "lightning/core/module.h"

#include "lightning/callbacks/callback.h"
#include "lightning/logging/result_collection.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "trainer/resolved_options.h"

#include <torch/nn/utils/clip_grad.h>

#include <fmt/format.h>

#include <cstring>

namespace lightning {

StepOutput::StepOutput(std::initializer_list<std::pair<std::string, torch::Tensor>> items) {
  for (const auto& [key, value] : items) {
    if (key == "loss")
      loss = value;
    else
      extras[key] = value;
  }
}

torch::Tensor LightningModule::forward(const torch::Tensor&) { throw detail::StepNotOverridden{"forward"}; }

StepOutput LightningModule::training_step(const Batch&, int64_t) {
  throw detail::StepNotOverridden{"training_step"};
}

StepOutput LightningModule::validation_step(const Batch&, int64_t, int64_t) {
  throw detail::StepNotOverridden{"validation_step"};
}

StepOutput LightningModule::test_step(const Batch&, int64_t, int64_t) { throw detail::StepNotOverridden{"test_step"}; }
void LightningModule::on_validation_model_train() { throw detail::StepNotOverridden{"on_validation_model_train"}; }
void LightningModule::on_test_model_train() { throw detail::StepNotOverridden{"on_test_model_train"}; }

torch::IValue LightningModule::predict_step(const Batch& batch, int64_t, int64_t) { return forward(batch[0]); }

OptimizerConfig LightningModule::configure_optimizers() {
  throw MisconfigurationException(
      "`configure_optimizers` is not implemented: `Trainer.fit` needs an optimizer; accepted: override "
      "`OptimizerConfig configure_optimizers()` and return e.g. std::make_shared<torch::optim::Adam>(parameters())");
}

void LightningModule::optimizer_step(int64_t, int64_t, LightningOptimizer& optimizer,
                                     const std::function<torch::Tensor()>& closure) {
  optimizer.step(closure);
}

void LightningModule::toggle_optimizer(const LightningOptimizer& optimizer) {
  // Lightning's order: freeze every optimizer's parameters remembering their flags, then give
  // `optimizer`'s parameters their own flags back.
  param_requires_grad_state_.clear();
  auto remembered = [&](const torch::Tensor& p) {
    for (const auto& [param, flag] : param_requires_grad_state_)
      if (param.is_same(p)) return true;
    return false;
  };
  for (const auto& opt : optimizers_)
    for (auto& group : opt->param_groups())
      for (auto& p : group.params())
        if (!remembered(p)) {
          param_requires_grad_state_.emplace_back(p, p.requires_grad());
          p.set_requires_grad(false);
        }
  for (auto& group : optimizer->param_groups())
    for (auto& p : group.params())
      for (const auto& [param, flag] : param_requires_grad_state_)
        if (param.is_same(p)) p.set_requires_grad(flag);
}

void LightningModule::untoggle_optimizer(const LightningOptimizer& optimizer) {
  for (const auto& opt : optimizers_) {
    if (opt.get() == optimizer.get()) continue;
    for (auto& group : opt->param_groups())
      for (auto& p : group.params())
        for (const auto& [param, flag] : param_requires_grad_state_)
          if (param.is_same(p)) p.set_requires_grad(flag);
  }
  param_requires_grad_state_.clear();
}

namespace {
void set_grads_to_none(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) {
    auto& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (grad.defined()) grad = torch::Tensor();
  }
}
}  // namespace

void LightningModule::optimizer_zero_grad(int64_t, int64_t, torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) set_grads_to_none(group.params());
}

void LightningModule::lr_scheduler_step(optim::LRScheduler& scheduler, std::optional<double> metric) {
  if (metric)
    scheduler.step(*metric);
  else
    scheduler.step();
}

std::vector<std::shared_ptr<optim::LRScheduler>> LightningModule::lr_schedulers() const {
  std::vector<std::shared_ptr<optim::LRScheduler>> out;
  for (const auto& c : lr_scheduler_configs_) out.push_back(c.scheduler);
  return out;
}

void LightningModule::on_validation_model_zero_grad() { set_grads_to_none(parameters()); }

void LightningModule::configure_gradient_clipping(torch::optim::Optimizer& optimizer,
                                                  std::optional<double> gradient_clip_val,
                                                  std::optional<std::string> gradient_clip_algorithm) {
  clip_gradients(optimizer, gradient_clip_val, std::move(gradient_clip_algorithm));
}

void LightningModule::clip_gradients(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
                                     std::optional<std::string> gradient_clip_algorithm) {
  // As Lightning: unset arguments fall back to the Trainer's flags, which they must not contradict.
  const auto* flags = trainer_ ? &trainer_->options() : nullptr;
  const auto flag_val = flags ? flags->gradient_clip_val : std::nullopt;
  if (gradient_clip_val && flag_val && *flag_val != *gradient_clip_val)
    throw MisconfigurationException(fmt::format(
        "You have set `Trainer(gradient_clip_val={})` and have passed `clip_gradients(gradient_clip_val={})`; "
        "accepted: only one of them",
        *flag_val, *gradient_clip_val));
  const double value = gradient_clip_val.value_or(flag_val.value_or(0.0));
  if (value < 0)
    throw MisconfigurationException(
        fmt::format("clip_gradients: gradient_clip_val={} is invalid; accepted: a number >= 0", value));
  const std::string algorithm = gradient_clip_algorithm.value_or(flags ? flags->gradient_clip_algorithm : "norm");
  if (algorithm != "norm" && algorithm != "value")
    throw MisconfigurationException(fmt::format(
        "clip_gradients: `gradient_clip_algorithm` {} is invalid. Allowed algorithms: 'norm', 'value'", algorithm));
  if (flags && flag_val && gradient_clip_algorithm && algorithm != flags->gradient_clip_algorithm)
    throw MisconfigurationException(fmt::format(
        "You have set `Trainer(gradient_clip_algorithm='{}')` and have passed `clip_gradients(gradient_clip_algorithm="
        "'{}')`; accepted: only one of them",
        flags->gradient_clip_algorithm, algorithm));
  if (value == 0) return;
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  if (algorithm == "norm")
    torch::nn::utils::clip_grad_norm_(params, value);
  else
    torch::nn::utils::clip_grad_value_(params, value);
}

void LightningModule::manual_backward(const torch::Tensor& loss) {
  auto& t = trainer();
  t.call_hooks(
      "on_before_backward", [&](Callback& c) { c.on_before_backward(t, *this, loss); },
      [&](LightningModule& m) { m.on_before_backward(loss); });
  t.call_strategy("backward", [&](strategies::Strategy& s) { s.backward(loss, nullptr); });
  t.call_hooks(
      "on_after_backward", [&](Callback& c) { c.on_after_backward(t, *this); },
      [&](LightningModule& m) { m.on_after_backward(); });
}

Batch LightningModule::transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t) {
  // In place on the batch we own: no allocation when the data is already there.
  for (auto& field : batch.fields())
    if (field.defined() && field.device() != device) field = field.to(device, /*non_blocking=*/device.is_cuda());
  return batch;
}

void LightningModule::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  device_ = device;
}

void LightningModule::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  device_ = device;
}

Trainer& LightningModule::trainer() const {
  if (!trainer_)
    throw MisconfigurationException(
        "This LightningModule is not attached to a Trainer; `trainer()` is available while a Trainer runs it");
  return *trainer_;
}

int64_t LightningModule::current_epoch() const { return trainer_ ? trainer_->current_epoch() : 0; }
int64_t LightningModule::global_step() const { return trainer_ ? trainer_->global_step() : 0; }
torch::Tensor LightningModule::all_gather(const torch::Tensor& data, bool sync_grads) {
  return trainer().strategy().all_gather(data, sync_grads);
}

void LightningModule::barrier(const std::string& name) { trainer().strategy().barrier(name); }

torch::IValue LightningModule::broadcast(const torch::IValue& obj, int64_t src) {
  return trainer().strategy().broadcast(obj, src);
}

bool LightningModule::is_global_zero() const { return !trainer_ || trainer_->is_global_zero(); }

void LightningModule::save_hyperparameters(const Hyperparameters& hparams) {
  for (const auto& [name, value] : hparams) hparams_.set(name, value);
}

namespace {

struct LogRule {
  const char* fx;
  bool allowed;
  bool step_allowed;   // on_step=true accepted
  bool epoch_allowed;  // on_epoch=true accepted
  bool default_on_step;
};

// Lightning's `_FxValidator`: which hooks may log, and their on_step/on_epoch defaults.
constexpr LogRule kLogRules[] = {
    {"training_step", true, true, true, true},
    {"on_train_batch_start", true, true, true, true},
    {"on_train_batch_end", true, true, true, true},
    {"on_before_backward", true, true, true, true},
    {"backward", true, true, true, true},
    {"on_after_backward", true, true, true, true},
    {"on_before_optimizer_step", true, true, true, true},
    {"optimizer_step", true, true, true, true},
    {"configure_gradient_clipping", true, true, true, true},
    {"on_before_zero_grad", true, true, true, true},
    {"optimizer_zero_grad", true, true, true, true},
    {"validation_step", true, true, true, false},
    {"test_step", true, true, true, false},
    {"on_validation_batch_start", true, true, true, false},
    {"on_validation_batch_end", true, true, true, false},
    {"on_test_batch_start", true, true, true, false},
    {"on_test_batch_end", true, true, true, false},
    {"on_train_start", true, false, true, false},
    {"on_train_epoch_start", true, false, true, false},
    {"on_train_epoch_end", true, false, true, false},
    {"on_validation_start", true, false, true, false},
    {"on_validation_epoch_start", true, false, true, false},
    {"on_validation_epoch_end", true, false, true, false},
    {"on_test_start", true, false, true, false},
    {"on_test_epoch_start", true, false, true, false},
    {"on_test_epoch_end", true, false, true, false},
};

const LogRule* find_rule(const char* fx) {
  for (const auto& rule : kLogRules)
    if (std::strcmp(rule.fx, fx) == 0) return &rule;
  return nullptr;
}

}  // namespace

void LightningModule::log(const std::string& name, const LogValue& value, const LogOptions& options) {
  if (!trainer_) return;  // Lightning ignores `self.log` outside a Trainer.
  auto& t = *trainer_;
  auto* results = t.results();
  const char* fx = t.current_fx();
  const LogRule* rule = find_rule(fx);
  if (!rule || !results)
    throw MisconfigurationException(fmt::format(
        "You can't `self.log('{}', ...)` inside `{}`; accepted: the *_step hooks, batch, epoch and "
        "optimization hooks of training/validation/test",
        name, *fx ? fx : "(outside a hook)"));
  const bool on_step = options.on_step.value_or(rule->default_on_step);
  const bool on_epoch = options.on_epoch.value_or(!rule->default_on_step);
  if (on_step && !rule->step_allowed)
    throw MisconfigurationException(fmt::format(
        "You can't `self.log('{}', ..., on_step=true)` inside `{}`; accepted: on_step=false", name, fx));
  if (!on_step && !on_epoch)
    throw MisconfigurationException(fmt::format(
        "self.log('{}', ...) in `{}` with on_step=false and on_epoch=false would record nothing; accepted: at "
        "least one of them true",
        name, fx));
  const bool suffixed = options.add_dataloader_idx && t.eval_dataloader_idx >= 0 && t.num_eval_dataloaders > 1;
  const std::string& key = suffixed ? fmt::format("{}/dataloader_idx_{}", name, t.eval_dataloader_idx) : name;
  torch::Tensor tensor = value.tensor.defined() ? value.tensor : torch::scalar_tensor(value.number);
  if (tensor.numel() != 1)
    throw MisconfigurationException(fmt::format(
        "self.log('{}', value) in `{}`: value must be a scalar (one element), got a tensor of shape [{}]", name, fx,
        fmt::join(tensor.sizes(), ", ")));
  const double batch_size = static_cast<double>(options.batch_size.value_or(t.current_batch_size));
  results->log(fx, key, tensor, on_step, on_epoch, options, batch_size);
}

void LightningModule::log_dict(const std::map<std::string, LogValue>& values, const LogOptions& options) {
  for (const auto& [name, value] : values) log(name, value, options);
}

}  // namespace lightning
