// The schedules that anneal along a cosine or cycle between bounds: CosineAnnealingLR,
// CosineAnnealingWarmRestarts, OneCycleLR and CyclicLR (formulas as torch 1.13's, see
// lr_scheduler.cpp).
#include "lightning/optim/lr_scheduler.h"

#include "optim/lr_scheduler_common.h"
#include "optim/param_groups.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lightning::optim {
using namespace internal;  // lr_scheduler_common.h

namespace {
constexpr double kPi = 3.141592653589793;  // Python's math.pi
}  // namespace

// --- Cosine schedules ------------------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(std::shared_ptr<Optimizer> optimizer, int64_t T_max, double eta_min)
    : LRScheduler(std::move(optimizer)), T_max_(T_max), eta_min_(eta_min) {
  require(T_max >= 1, name(), fmt::format("T_max={} is invalid; accepted: an int >= 1", T_max));
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  auto lrs = group_lrs();
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = eta_min_ + (base_lrs_[i] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
  } else if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    for (size_t i = 0; i < lrs.size(); ++i) lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
  } else {
    for (auto& lr : lrs)
      lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) *
                                 (1 + std::cos(kPi * static_cast<double>(last_epoch_) / static_cast<double>(T_max_))) /
                                 2);
  return lrs;
}

void CosineAnnealingLR::write_state(Dict& state) const {
  state.insert("T_max", T_max_);
  state.insert("eta_min", eta_min_);
}

void CosineAnnealingLR::read_state(const Dict& state) {
  T_max_ = at(state, "T_max").toInt();
  eta_min_ = number(at(state, "eta_min"));
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(std::shared_ptr<Optimizer> optimizer, int64_t T_0,
                                                         int64_t T_mult, double eta_min)
    : LRScheduler(std::move(optimizer)), T_0_(T_0), T_i_(T_0), T_mult_(T_mult), eta_min_(eta_min), T_cur_(-1) {
  require(T_0 >= 1, name(), fmt::format("T_0={} is invalid; accepted: an int >= 1", T_0));
  require(T_mult >= 1, name(), fmt::format("T_mult={} is invalid; accepted: an int >= 1", T_mult));
  step_count_ = 0;
  step();  // PyTorch's own step(), which never counts `_step_count`
}

void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) return step_to(0);
  ++last_epoch_;
  T_cur_ = T_cur_ + 1;
  if (T_cur_ >= static_cast<double>(T_i_)) {
    T_cur_ = T_cur_ - static_cast<double>(T_i_);
    T_i_ = T_i_ * T_mult_;
  }
  set_lrs();
}

void CosineAnnealingWarmRestarts::step_to(int64_t epoch) {
  require(epoch >= 0, name(), fmt::format("step to epoch {} is invalid; accepted: an epoch >= 0", epoch));
  const double e = static_cast<double>(epoch);
  if (epoch >= T_0_) {
    if (T_mult_ == 1) {
      T_cur_ = static_cast<double>(epoch % T_0_);
    } else {
      const auto n = static_cast<int64_t>(std::log(e / static_cast<double>(T_0_) * static_cast<double>(T_mult_ - 1) + 1) /
                                          std::log(static_cast<double>(T_mult_)));
      const double power = std::pow(static_cast<double>(T_mult_), static_cast<double>(n));
      T_cur_ = e - static_cast<double>(T_0_) * (power - 1) / static_cast<double>(T_mult_ - 1);
      T_i_ = T_0_ * static_cast<int64_t>(power);
    }
  } else {
    T_i_ = T_0_;
    T_cur_ = e;
  }
  last_epoch_ = epoch;
  set_lrs();
}

void CosineAnnealingWarmRestarts::set_lrs() { apply(get_lr()); }

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * T_cur_ / static_cast<double>(T_i_))) / 2);
  return lrs;
}

void CosineAnnealingWarmRestarts::write_state(Dict& state) const {
  state.insert("T_0", T_0_);
  state.insert("T_i", T_i_);
  state.insert("T_mult", T_mult_);
  state.insert("eta_min", eta_min_);
  state.insert("T_cur", T_cur_);
}

void CosineAnnealingWarmRestarts::read_state(const Dict& state) {
  T_0_ = at(state, "T_0").toInt();
  T_i_ = at(state, "T_i").toInt();
  T_mult_ = at(state, "T_mult").toInt();
  eta_min_ = number(at(state, "eta_min"));
  T_cur_ = number(at(state, "T_cur"));
}

// --- OneCycleLR --------------------------------------------------------------------------------------

namespace {
enum { kInitialLr, kMaxLr, kMinLr, kMaxMomentum, kBaseMomentum };
constexpr const char* kGroupKeys[] = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"};
}  // namespace

OneCycleLR::OneCycleLR(std::shared_ptr<Optimizer> optimizer, const OneCycleLROptions& o)
    : LRScheduler(std::move(optimizer)), anneal_strategy_(o.anneal_strategy), cycle_momentum_(o.cycle_momentum) {
  if (o.total_steps) {
    require(*o.total_steps >= 1, name(), fmt::format("total_steps={} is invalid; accepted: an int >= 1", *o.total_steps));
    total_steps_ = *o.total_steps;
  } else {
    require(o.epochs && o.steps_per_epoch, name(),
            "neither total_steps nor epochs and steps_per_epoch are set; accepted: total_steps, or epochs and "
            "steps_per_epoch");
    require(*o.epochs >= 1 && *o.steps_per_epoch >= 1, name(),
            fmt::format("epochs={} steps_per_epoch={} are invalid; accepted: ints >= 1", *o.epochs, *o.steps_per_epoch));
    total_steps_ = *o.epochs * *o.steps_per_epoch;
  }
  const double total = static_cast<double>(total_steps_);
  if (o.three_phase)
    phases_ = {{o.pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {2 * o.pct_start * total - 2, kMaxLr, kInitialLr, kBaseMomentum, kMaxMomentum},
               {total - 1, kInitialLr, kMinLr, kMaxMomentum, kMaxMomentum}};
  else
    phases_ = {{o.pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {total - 1, kMaxLr, kMinLr, kBaseMomentum, kMaxMomentum}};
  require(o.pct_start >= 0 && o.pct_start <= 1, name(),
          fmt::format("pct_start={} is invalid; accepted: a number in [0, 1]", o.pct_start));
  require(anneal_strategy_ == "cos" || anneal_strategy_ == "linear", name(),
          fmt::format("anneal_strategy='{}' is invalid; accepted: 'cos', 'linear'", anneal_strategy_));
  auto& groups = optimizer_->param_groups();
  std::vector<double> initial;
  for (auto& g : groups) {
    Group values{};
    values.values[kInitialLr] = o.max_lr / o.div_factor;
    values.values[kMaxLr] = o.max_lr;
    values.values[kMinLr] = values.values[kInitialLr] / o.final_div_factor;
    values.values[kMaxMomentum] = o.max_momentum;
    values.values[kBaseMomentum] = o.base_momentum;
    groups_.push_back(values);
    initial.push_back(values.values[kInitialLr]);
    if (cycle_momentum_) {
      require(detail::set_momentum(g.options(), o.max_momentum), name(),
              "the optimizer has no momentum; accepted: cycle_momentum=false, or SGD, RMSprop, Adam, AdamW");
      use_beta1_ = detail::uses_betas(g.options());
    }
  }
  set_base_lrs(initial);
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_strategy_ == "linear") return (end - start) * pct + start;
  const double cos_out = std::cos(kPi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  const double step = static_cast<double>(last_epoch_);
  require(last_epoch_ <= total_steps_, name(),
          fmt::format("tried to step {} times; the specified number of total steps is {}", last_epoch_ + 1,
                      total_steps_));
  std::vector<double> lrs;
  auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& v = groups_[g].values;
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const auto& phase = phases_[i];
      if (step <= phase.end_step || i + 1 == phases_.size()) {
        const double pct = (step - start_step) / (phase.end_step - start_step);
        lr = anneal(v[phase.start_lr], v[phase.end_lr], pct);
        momentum = anneal(v[phase.start_momentum], v[phase.end_momentum], pct);
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) detail::set_momentum(groups[g].options(), momentum);
  }
  return lrs;
}

void OneCycleLR::write_state(Dict& state) const {
  state.insert("total_steps", total_steps_);
  auto phases = new_list();
  for (const auto& p : phases_) {
    Dict d = new_dict();
    d.insert("end_step", p.end_step);
    d.insert("start_lr", std::string(kGroupKeys[p.start_lr]));
    d.insert("end_lr", std::string(kGroupKeys[p.end_lr]));
    d.insert("start_momentum", std::string(kGroupKeys[p.start_momentum]));
    d.insert("end_momentum", std::string(kGroupKeys[p.end_momentum]));
    phases.push_back(d);
  }
  state.insert("_schedule_phases", phases);
  state.insert("cycle_momentum", cycle_momentum_);
  state.insert("use_beta1", use_beta1_);
}

void OneCycleLR::read_state(const Dict& state) {
  total_steps_ = at(state, "total_steps").toInt();
  const auto phases = at(state, "_schedule_phases").toListRef();
  for (size_t i = 0; i < phases.size() && i < phases_.size(); ++i)
    phases_[i].end_step = number(dict_at(phases[i].toGenericDict(), "end_step", "OneCycleLR state"));
}

// --- CyclicLR ------------------------------------------------------------------------------------

CyclicLR::CyclicLR(std::shared_ptr<Optimizer> optimizer, CyclicLROptions options)
    : LRScheduler(std::move(optimizer)), options_(std::move(options)) {
  auto& o = options_;
  require(o.step_size_up >= 1 && o.step_size_down.value_or(1) >= 1, name(),
          fmt::format("step_size_up={} step_size_down={} are invalid; accepted: ints >= 1", o.step_size_up,
                      o.step_size_down.value_or(o.step_size_up)));
  if (!o.scale_fn) {
    require(o.mode == "triangular" || o.mode == "triangular2" || o.mode == "exp_range", name(),
            fmt::format("mode='{}' is invalid; accepted: 'triangular', 'triangular2', 'exp_range' or a scale_fn",
                        o.mode));
    o.scale_mode = o.mode == "exp_range" ? "iterations" : "cycle";
  }
  auto& groups = optimizer_->param_groups();
  for (auto& g : groups) g.options().set_lr(o.base_lr);
  const double up = static_cast<double>(o.step_size_up);
  const double down = o.step_size_down ? static_cast<double>(*o.step_size_down) : up;
  total_size_ = up + down;
  step_ratio_ = up / total_size_;
  max_lrs_.assign(groups.size(), o.max_lr);
  if (o.cycle_momentum) {
    for (auto& g : groups)
      require(!detail::uses_betas(g.options()) && detail::set_momentum(g.options(), o.base_momentum), name(),
              "the optimizer has no `momentum`; accepted: cycle_momentum=false, or SGD, RMSprop");
    base_momentums_.assign(groups.size(), o.base_momentum);
    max_momentums_.assign(groups.size(), o.max_momentum);
  }
  // PyTorch's `initial_lr` is the group's lr once set to base_lr (unless another scheduler set it).
  set_base_lrs(std::vector<double>(groups.size(), o.base_lr));
  initial_step();
}

double CyclicLR::scale(double x) const {
  if (options_.scale_fn) return options_.scale_fn(x);
  if (options_.mode == "triangular") return 1.0;
  if (options_.mode == "triangular2") return 1 / std::pow(2.0, x - 1);
  return std::pow(options_.gamma, x);
}

std::vector<double> CyclicLR::get_lr() {
  const double e = static_cast<double>(last_epoch_);
  const double cycle = std::floor(1 + e / total_size_);
  const double x = 1.0 + e / total_size_ - cycle;
  const double scale_factor = x <= step_ratio_ ? x / step_ratio_ : (x - 1) / (step_ratio_ - 1);
  const double s = scale(options_.scale_mode == "cycle" ? cycle : e);
  std::vector<double> lrs;
  for (size_t i = 0; i < base_lrs_.size(); ++i) {
    const double base_height = (max_lrs_[i] - base_lrs_[i]) * scale_factor;
    lrs.push_back(base_lrs_[i] + base_height * s);
  }
  if (options_.cycle_momentum) {
    auto& groups = optimizer_->param_groups();
    for (size_t i = 0; i < groups.size(); ++i) {
      const double base_height = (max_momentums_[i] - base_momentums_[i]) * scale_factor;
      detail::set_momentum(groups[i].options(), max_momentums_[i] - base_height * s);
    }
  }
  return lrs;
}

void CyclicLR::write_state(Dict& state) const {
  state.insert("max_lrs", doubles(max_lrs_));
  state.insert("total_size", total_size_);
  state.insert("step_ratio", step_ratio_);
  state.insert("mode", options_.mode);
  state.insert("gamma", options_.gamma);
  state.insert("scale_mode", options_.scale_mode);
  state.insert("cycle_momentum", options_.cycle_momentum);
  if (options_.cycle_momentum) {
    state.insert("base_momentums", doubles(base_momentums_));
    state.insert("max_momentums", doubles(max_momentums_));
  }
}

void CyclicLR::read_state(const Dict& state) {
  max_lrs_ = numbers(at(state, "max_lrs"));
  total_size_ = number(at(state, "total_size"));
  step_ratio_ = number(at(state, "step_ratio"));
  options_.gamma = number(at(state, "gamma"));
  if (options_.cycle_momentum) {
    base_momentums_ = numbers(at(state, "base_momentums"));
    max_momentums_ = numbers(at(state, "max_momentums"));
  }
}

}  // namespace lightning::optim
