#include "lightning/precision/precision.h"

#include "lightning/core/batch.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/torch_compat.h"

#include <torch/optim/lbfgs.h>

#include <fmt/format.h>

#include <cmath>

namespace lightning::plugins {

// --- GradScaler ----------------------------------------------------------------------------------

GradScaler::GradScaler(Options options) : options_(options), scale_(static_cast<float>(options.init_scale)) {
  if (options_.growth_factor <= 1.0 || options_.backoff_factor >= 1.0 || options_.growth_interval < 1)
    throw MisconfigurationException(fmt::format(
        "GradScaler: growth_factor={} backoff_factor={} growth_interval={} are invalid; accepted: growth_factor > 1, "
        "backoff_factor < 1, growth_interval >= 1",
        options_.growth_factor, options_.backoff_factor, options_.growth_interval));
}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) { return options_.enabled ? loss * scale_ : loss; }

void GradScaler::unscale_(torch::optim::Optimizer& optimizer) {
  if (!options_.enabled) return;
  if (found_inf_.defined())
    throw MisconfigurationException("GradScaler: unscale_() has already been called on this optimizer since the last "
                                    "update(); accepted: one unscale_ per step");
  const double inv_scale = static_cast<float>(1.0 / scale_);
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) {
      auto& grad = p.mutable_grad();
      if (!grad.defined()) continue;
      grad.mul_(inv_scale);
      // One flag tensor for all gradients: a single sync when the step reads it.
      auto bad = grad.isfinite().logical_not().any();
      found_inf_ = found_inf_.defined() ? found_inf_.logical_or(bad.to(found_inf_.device())) : bad;
    }
  if (!found_inf_.defined()) found_inf_ = torch::zeros({}, torch::kBool);
}

bool GradScaler::step(torch::optim::Optimizer& optimizer) {
  if (!options_.enabled) {
    optimizer.step();
    return true;
  }
  if (!found_inf_.defined()) unscale_(optimizer);
  if (found_inf_.item<bool>()) return false;
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  // torch._amp_update_scale_: backoff at once, growth after growth_interval finite steps.
  const bool found_inf = found_inf_.defined() && found_inf_.item<bool>();
  if (found_inf) {
    scale_ = static_cast<float>(scale_ * options_.backoff_factor);
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    const float grown = static_cast<float>(scale_ * options_.growth_factor);
    if (std::isfinite(grown)) scale_ = grown;
    growth_tracker_ = 0;
  }
  found_inf_ = torch::Tensor();
}

double GradScaler::get_scale() const { return options_.enabled ? scale_ : 1.0; }

Dict GradScaler::state_dict() const {
  Dict state = new_dict();
  if (!options_.enabled) return state;
  state.insert("scale", scale_);
  state.insert("growth_factor", options_.growth_factor);
  state.insert("backoff_factor", options_.backoff_factor);
  state.insert("growth_interval", options_.growth_interval);
  state.insert("_growth_tracker", growth_tracker_);
  return state;
}

void GradScaler::load_state_dict(const Dict& state) {
  if (!options_.enabled) return;
  if (state.empty())
    throw MisconfigurationException(
        "GradScaler: the state is empty (saved by a disabled scaler); accepted: the state of an enabled scaler");
  auto number = [&](const char* key) {
    auto v = dict_at(state, key, "GradScaler state");
    return v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble();
  };
  scale_ = number("scale");
  options_.growth_factor = number("growth_factor");
  options_.backoff_factor = number("backoff_factor");
  options_.growth_interval = static_cast<int64_t>(number("growth_interval"));
  growth_tracker_ = static_cast<int64_t>(number("_growth_tracker"));
}

// --- Precision -------------------------------------------------------------------------------------

std::string resolve_precision(const std::string& flag) {
  if (flag == "64" || flag == "64-true") return "64-true";
  if (flag == "32" || flag == "32-true") return "32-true";
  if (flag == "16" || flag == "16-mixed") return "16-mixed";
  if (flag == "bf16" || flag == "bf16-mixed") return "bf16-mixed";
  if (flag == "16-true" || flag == "bf16-true") return flag;
  throw MisconfigurationException(fmt::format(
      "precision='{}' is invalid; accepted: 64, \"64\", \"64-true\", 32, \"32\", \"32-true\", 16, \"16\", "
      "\"16-mixed\", \"bf16\", \"bf16-mixed\", \"16-true\", \"bf16-true\"",
      flag));
}

Precision::Precision(std::string precision) : precision_(resolve_precision(precision)) {
  if (precision_ == "16-mixed") scaler_ = std::make_unique<GradScaler>();
}

std::optional<torch::Dtype> Precision::param_dtype() const {
  if (precision_ == "64-true") return torch::kFloat64;
  if (precision_ == "bf16-true") return torch::kBFloat16;
  if (precision_ == "16-true") return torch::kFloat16;
  return std::nullopt;
}

std::optional<torch::Dtype> Precision::autocast_dtype() const {
  if (precision_ == "bf16-mixed") return torch::kBFloat16;
  if (precision_ == "16-mixed") return torch::kFloat16;
  return std::nullopt;
}

void Precision::convert_module(torch::nn::Module& module) const {
  const auto dtype = param_dtype();
  if (!dtype) return;
  // As PyTorch's Module.to(dtype): floating tensors only. LibTorch's Module::to casts integer
  // buffers too (BatchNorm's num_batches_tracked would count in bfloat16).
  torch::NoGradGuard no_grad;
  for (auto& tensor : module.parameters())
    if (tensor.is_floating_point()) tensor.set_data(tensor.to(*dtype));
  for (auto& tensor : module.buffers())
    if (tensor.is_floating_point()) tensor.set_data(tensor.to(*dtype));
}

void Precision::convert_input(Batch& batch) const {
  const auto dtype = param_dtype();
  if (!dtype) return;
  for (auto& field : batch.fields())
    if (field.defined() && field.is_floating_point() && field.scalar_type() != *dtype) field = field.to(*dtype);
}

torch::Tensor Precision::pre_backward(const torch::Tensor& loss) { return scaler_ ? scaler_->scale(loss) : loss; }

torch::Tensor Precision::optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure,
                                        const std::function<void()>& after_closure) {
  if (!scaler_) {
    // The optimizer calls the closure (LBFGS: several times); the hooks see each backward's gradients.
    struct Both {
      const std::function<torch::Tensor()>* closure;
      const std::function<void()>* after;
    } both{&closure, &after_closure};
    return optimizer.step([b = &both]() {
      auto loss = *b->closure ? (*b->closure)() : torch::Tensor();
      (*b->after)();
      return loss;
    });
  }
  if (dynamic_cast<torch::optim::LBFGS*>(&optimizer))
    throw MisconfigurationException("AMP and the LBFGS optimizer are not compatible; accepted: another optimizer, or "
                                    "precision \"32-true\" or \"bf16-mixed\"");
  auto loss = closure ? closure() : torch::Tensor();
  // A training_step that returned nothing skipped backward: no gradients to unscale or step.
  if (closure && !loss.defined()) return loss;
  scaler_->unscale_(optimizer);  // clipping in after_closure sees unscaled gradients
  after_closure();
  scaler_->step(optimizer);
  scaler_->update();
  return loss;
}

std::string Precision::state_key() const { return scaler_ ? "MixedPrecision" : ""; }

Dict Precision::state_dict() const { return scaler_ ? scaler_->state_dict() : new_dict(); }

void Precision::load_state_dict(const Dict& state) {
  if (scaler_) scaler_->load_state_dict(state);
}

// --- ForwardContext ----------------------------------------------------------------------------------

ForwardContext::ForwardContext(const Precision& precision, const torch::Device& device) {
  const auto dtype = precision.autocast_dtype();
  cuda_ = device.is_cuda();
  // CPU autocast supports bfloat16 only (torch.autocast disables itself otherwise).
  if (!dtype || (!cuda_ && *dtype != torch::kBFloat16)) return;
  active_ = true;
  previous_enabled_ = compat::autocast_enabled(cuda_);
  previous_dtype_ = compat::autocast_dtype(cuda_);
  compat::set_autocast(cuda_, true, *dtype);
  at::autocast::increment_nesting();
}

ForwardContext::~ForwardContext() {
  if (!active_) return;
  // As torch.autocast's __exit__: the cast cache lives as long as the outermost region.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  compat::set_autocast(cuda_, previous_enabled_, previous_dtype_);
}

}  // namespace lightning::plugins
