#pragma once
/// Precision plugins: Lightning's `precision` flag — "64-true", "32-true", "bf16-mixed",
/// "16-mixed" (with a GradScaler), "bf16-true", "16-true" — and the dynamic gradient scaler.
#include "lightning/checkpoint/dict.h"
#include "lightning/plugins/plugin.h"

#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace torch::nn {
class Module;
}  // namespace torch::nn
namespace torch::optim {
class Optimizer;
}  // namespace torch::optim
namespace lightning {
class Batch;
}  // namespace lightning

namespace lightning::plugins {

/// PyTorch's `torch.cuda.amp.GradScaler` for LibTorch (which has none): scales the loss,
/// unscales gradients once per step, skips the step when a gradient is inf/nan and adapts the
/// scale (backoff at once, growth after `growth_interval` good steps). Works on CPU tensors too.
class GradScaler {
 public:
  struct Options {
    double init_scale = 65536.0;
    double growth_factor = 2.0;
    double backoff_factor = 0.5;
    int64_t growth_interval = 2000;
    bool enabled = true;
  };
  GradScaler() : GradScaler(Options{}) {}
  explicit GradScaler(Options options);
  /// loss * scale (the loss unchanged when disabled).
  torch::Tensor scale(const torch::Tensor& loss);
  /// Divides the gradients of `optimizer`'s parameters by the scale (once per step) and records
  /// whether any is inf/nan.
  void unscale_(torch::optim::Optimizer& optimizer);
  /// Unscales if needed; runs `optimizer.step()` unless a gradient was inf/nan. Returns whether it stepped.
  bool step(torch::optim::Optimizer& optimizer);
  /// New scale after the step: backoff if inf/nan was found, growth after `growth_interval` good steps.
  void update();
  double get_scale() const;
  int64_t growth_tracker() const { return growth_tracker_; }
  bool is_enabled() const { return options_.enabled; }
  /// PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker.
  Dict state_dict() const;
  void load_state_dict(const Dict& state);

 private:
  Options options_;
  double scale_;  // kept on the host, rounded to float32 as PyTorch's scale tensor
  int64_t growth_tracker_ = 0;
  torch::Tensor found_inf_;  // set by unscale_ in the current step; undefined before
};

/// The plugin the Trainer builds from `precision` (or one passed in `plugins`).
class Precision : public Plugin {
 public:
  /// `precision`: one of the resolved names above.
  explicit Precision(std::string precision = "32-true");
  const std::string& precision() const { return precision_; }
  /// The dtype parameters are converted to ("-true" and "64-true"); nullopt for the others.
  std::optional<torch::Dtype> param_dtype() const;
  /// The autocast dtype of the mixed precisions; nullopt otherwise.
  std::optional<torch::Dtype> autocast_dtype() const;
  /// Casts the module's floating parameters and buffers to `param_dtype()`.
  void convert_module(torch::nn::Module& module) const;
  /// Casts the batch's floating fields to `param_dtype()`.
  void convert_input(Batch& batch) const;
  /// The loss to call backward on (scaled under 16-mixed).
  torch::Tensor pre_backward(const torch::Tensor& loss);
  /// The update of one optimizer step: `closure` computes the loss and gradients, then
  /// `after_closure` sees them (unscaled) before `optimizer.step`. 16-mixed skips the update
  /// when a gradient is inf/nan and updates the scale.
  torch::Tensor optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure,
                               const std::function<void()>& after_closure);
  /// The 16-mixed scaler, or nullptr.
  GradScaler* scaler() { return scaler_.get(); }
  /// Lightning 2.x's checkpoint key for this plugin's state (its plugin's class name,
  /// "MixedPrecision"), or "". Restoring also reads 1.x's "native_amp_scaling_state".
  std::string state_key() const;
  Dict state_dict() const;
  void load_state_dict(const Dict& state);

 private:
  std::string precision_;
  std::unique_ptr<GradScaler> scaler_;
};

/// Autocast around a forward pass for the mixed precisions (a no-op for the others).
class ForwardContext {
 public:
  ForwardContext(const Precision& precision, const torch::Device& device);
  ~ForwardContext();
  ForwardContext(const ForwardContext&) = delete;
  ForwardContext& operator=(const ForwardContext&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  torch::Dtype previous_dtype_ = torch::kFloat;
};

/// The canonical name of a `precision` flag value ("bf16" -> "bf16-mixed", 32 -> "32-true");
/// throws MisconfigurationException naming the value and the accepted ones.
std::string resolve_precision(const std::string& flag);

}  // namespace lightning::plugins
