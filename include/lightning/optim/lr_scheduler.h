#pragma once
/// Learning-rate schedulers with PyTorch's formulas (torch 1.13's `step()`, the chainable form)
/// and `state_dict` keys, for LibTorch optimizers:
///
///     auto opt = std::make_shared<torch::optim::SGD>(parameters(), 0.1);
///     auto sched = std::make_shared<lightning::optim::StepLR>(opt, /*step_size=*/30, /*gamma=*/0.1);
///     return {opt, sched};   // from configure_optimizers
///
/// Like PyTorch's, a scheduler sets the learning rate of every param group when constructed
/// (its first `step()`), and remembers each group's first learning rate (`initial_lr`) per
/// optimizer, so chained schedulers and SequentialLR start from the same base.
#include "lightning/checkpoint/checkpoint.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lightning::optim {

using torch::optim::Optimizer;

/// Base of every scheduler (PyTorch's `_LRScheduler`).
/// The `initial_lr` of each param group, as PyTorch's schedulers set it; empty when no scheduler
/// was created for `optimizer`.
std::vector<double> initial_lrs_of(const Optimizer& optimizer);

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  /// One step of the schedule (an epoch or a batch, as configured in Lightning).
  virtual void step();
  /// ReduceLROnPlateau's step with the monitored value; other schedulers throw.
  virtual void step(double metric);
  /// The learning rates of the param groups after the last step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// PyTorch's keys (`base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, and the scheduler's own).
  virtual Dict state_dict() const;
  virtual void load_state_dict(const Dict& state);
  const std::shared_ptr<Optimizer>& optimizer() const { return optimizer_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// PyTorch's class name ("StepLR", ...).
  virtual const char* name() const = 0;
  /// True for ReduceLROnPlateau, which Lightning steps with its `monitor` value.
  virtual bool reduce_on_plateau() const { return false; }

 protected:
  /// Registers the optimizer's `initial_lr` (once per optimizer) as `base_lrs`. The most
  /// derived constructor calls `initial_step()` last, as `get_lr` is virtual.
  explicit LRScheduler(std::shared_ptr<Optimizer> optimizer);
  void initial_step();
  /// Sets `last_epoch` and applies the closed form where the scheduler has one (SequentialLR's
  /// `step(0)` at a milestone).
  virtual void step_to(int64_t epoch);
  /// The new learning rates at `last_epoch_` (PyTorch's chainable `get_lr`).
  virtual std::vector<double> get_lr() = 0;
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  /// Keys written before the base's keys (PyTorch's attribute order) and read back.
  virtual void write_state(Dict& state) const {}
  virtual void read_state(const Dict& state) {}
  void apply(const std::vector<double>& lrs);
  std::vector<double> group_lrs() const;
  void set_base_lrs(std::vector<double> lrs);
  friend class SequentialLR;

  std::shared_ptr<Optimizer> optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;
  std::vector<double> last_lr_;
};

/// lr = lr * gamma every `step_size` epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(std::shared_ptr<Optimizer> optimizer, int64_t step_size, double gamma = 0.1);
  const char* name() const override { return "StepLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  int64_t step_size_;
  double gamma_;
};

/// lr = lr * gamma at each milestone (repeated milestones multiply repeatedly).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(std::shared_ptr<Optimizer> optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  const char* name() const override { return "MultiStepLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  std::vector<int64_t> milestones_;  // sorted, with repeats
  double gamma_;
};

/// lr = lr * gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(std::shared_ptr<Optimizer> optimizer, double gamma);
  const char* name() const override { return "ExponentialLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  double gamma_;
};

/// The factor goes linearly from `start_factor` to `end_factor` over `total_iters` epochs.
class LinearLR : public LRScheduler {
 public:
  LinearLR(std::shared_ptr<Optimizer> optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);
  const char* name() const override { return "LinearLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

/// lr = base * factor for the first `total_iters` epochs, then base.
class ConstantLR : public LRScheduler {
 public:
  ConstantLR(std::shared_ptr<Optimizer> optimizer, double factor = 1.0 / 3, int64_t total_iters = 5);
  const char* name() const override { return "ConstantLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  double factor_;
  int64_t total_iters_;
};

/// lr = base * lambda(epoch); one function for all groups or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(std::shared_ptr<Optimizer> optimizer, Lambda lr_lambda);
  LambdaLR(std::shared_ptr<Optimizer> optimizer, std::vector<Lambda> lr_lambdas);
  const char* name() const override { return "LambdaLR"; }
  /// PyTorch's keys; `lr_lambdas` holds None per group (functions are not saved).
  Dict state_dict() const override;

 protected:
  std::vector<double> get_lr() override;
  std::vector<Lambda> lr_lambdas_;
};

/// Cosine annealing from the base lr to `eta_min` over `T_max` epochs (and back, periodically).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(std::shared_ptr<Optimizer> optimizer, int64_t T_max, double eta_min = 0.0);
  const char* name() const override { return "CosineAnnealingLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  int64_t T_max_;
  double eta_min_;
};

/// SGDR: cosine annealing restarted every T_i epochs, T_i growing by `T_mult`.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(std::shared_ptr<Optimizer> optimizer, int64_t T_0, int64_t T_mult = 1,
                              double eta_min = 0.0);
  const char* name() const override { return "CosineAnnealingWarmRestarts"; }
  void step() override;

 protected:
  void step_to(int64_t epoch) override;
  std::vector<double> get_lr() override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  void set_lrs();
  int64_t T_0_, T_i_, T_mult_;
  double eta_min_;
  double T_cur_;
};

/// `OneCycleLR`'s arguments, with PyTorch's names and defaults.
struct OneCycleLROptions {
  double max_lr;
  std::optional<int64_t> total_steps;
  std::optional<int64_t> epochs;
  std::optional<int64_t> steps_per_epoch;
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

/// The 1cycle policy: warm up to `max_lr`, anneal to `max_lr / div_factor / final_div_factor`;
/// momentum (SGD, RMSprop) or beta1 (Adam, AdamW) cycles inversely. Step it every batch.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(std::shared_ptr<Optimizer> optimizer, const OneCycleLROptions& options);
  const char* name() const override { return "OneCycleLR"; }

 protected:
  std::vector<double> get_lr() override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  struct Phase {
    double end_step;
    int start_lr, end_lr, start_momentum, end_momentum;  // indices into Group::values
  };
  struct Group {
    double values[5];  // initial_lr, max_lr, min_lr, max_momentum, base_momentum
  };
  double anneal(double start, double end, double pct) const;
  int64_t total_steps_;
  std::vector<Phase> phases_;
  std::string anneal_strategy_;
  bool cycle_momentum_, use_beta1_ = false;
  std::vector<Group> groups_;
};

/// `CyclicLR`'s arguments, with PyTorch's names and defaults.
struct CyclicLROptions {
  double base_lr;
  double max_lr;
  int64_t step_size_up = 2000;
  std::optional<int64_t> step_size_down;
  std::string mode = "triangular";  // "triangular2", "exp_range"
  double gamma = 1.0;
  /// A custom scale function replaces `mode`; `scale_mode` is then "cycle" or "iterations".
  std::function<double(double)> scale_fn;
  std::string scale_mode = "cycle";
  bool cycle_momentum = true;
  double base_momentum = 0.8;
  double max_momentum = 0.9;
};

/// Cyclical learning rates between `base_lr` and `max_lr`. Step it every batch.
class CyclicLR : public LRScheduler {
 public:
  CyclicLR(std::shared_ptr<Optimizer> optimizer, CyclicLROptions options);
  const char* name() const override { return "CyclicLR"; }

 protected:
  std::vector<double> get_lr() override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  double scale(double x) const;
  CyclicLROptions options_;
  double total_size_, step_ratio_;
  std::vector<double> max_lrs_, base_momentums_, max_momentums_;
};

/// lr = base * (1 - epoch / total_iters) ^ power, then constant.
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(std::shared_ptr<Optimizer> optimizer, int64_t total_iters = 5, double power = 1.0);
  const char* name() const override { return "PolynomialLR"; }

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void write_state(Dict& state) const override;
  void read_state(const Dict& state) override;
  int64_t total_iters_;
  double power_;
};

/// Runs `schedulers[i]` between milestones i-1 and i (all on `optimizer`).
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  const char* name() const override { return "SequentialLR"; }
  void step() override;
  Dict state_dict() const override;
  void load_state_dict(const Dict& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

/// `ReduceLROnPlateau`'s arguments, with PyTorch's names and defaults.
struct ReduceLROnPlateauOptions {
  std::string mode = "min";  // or "max"
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // or "abs"
  int64_t cooldown = 0;
  double min_lr = 0.0;
  double eps = 1e-8;
};

/// Multiplies the learning rate by `factor` when the metric passed to `step(metric)` stopped
/// improving for `patience` steps. In `configure_optimizers`, its config needs a `monitor`.
class ReduceLROnPlateau : public LRScheduler {
 public:
  ReduceLROnPlateau(std::shared_ptr<Optimizer> optimizer, ReduceLROnPlateauOptions options = {});
  const char* name() const override { return "ReduceLROnPlateau"; }
  bool reduce_on_plateau() const override { return true; }
  void step() override;
  void step(double metric) override;
  Dict state_dict() const override;
  void load_state_dict(const Dict& state) override;
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }
  bool is_better(double a) const;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  int64_t cooldown_counter_ = 0;
  int64_t num_bad_epochs_ = 0;
  double best_;
};

}  // namespace lightning::optim
