// The formulas follow torch 1.13's `torch/optim/lr_scheduler.py` operation by operation, so the
// learning rates are the same doubles Python computes (tests/optim/test_lr_scheduler.cpp checks).
#include "lightning/optim/lr_scheduler.h"

#include "lightning/utilities/errors.h"
#include "optim/param_groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>

namespace lightning::optim {
namespace {

constexpr double kPi = 3.141592653589793;  // Python's math.pi

void require(bool ok, const char* scheduler, const std::string& message) {
  if (!ok) throw MisconfigurationException(fmt::format("{}: {}", scheduler, message));
}

// PyTorch stores each group's first learning rate as `param_groups[i]['initial_lr']`; LibTorch's
// options have no such slot, so it lives here, per live optimizer.
struct InitialLrs {
  std::weak_ptr<Optimizer> optimizer;
  std::vector<double> lrs;
};
std::mutex initial_lrs_mutex;
std::vector<InitialLrs> initial_lrs_table;

std::vector<double>* find_initial_lrs(const Optimizer* optimizer) {
  auto& table = initial_lrs_table;
  table.erase(std::remove_if(table.begin(), table.end(), [](const auto& e) { return e.optimizer.expired(); }),
              table.end());
  for (auto& e : table)
    if (e.optimizer.lock().get() == optimizer) return &e.lrs;
  return nullptr;
}

/// `group.setdefault('initial_lr', group['lr'])` for every group; returns the initial lrs.
std::vector<double> initial_lrs(const std::shared_ptr<Optimizer>& optimizer) {
  std::lock_guard<std::mutex> lock(initial_lrs_mutex);
  const auto& groups = optimizer->param_groups();
  if (auto* found = find_initial_lrs(optimizer.get()); found && found->size() == groups.size()) return *found;
  std::vector<double> lrs;
  for (const auto& g : groups) lrs.push_back(g.options().get_lr());
  if (auto* found = find_initial_lrs(optimizer.get()))
    *found = lrs;
  else
    initial_lrs_table.push_back({optimizer, lrs});
  return lrs;
}

void set_initial_lrs(const std::shared_ptr<Optimizer>& optimizer, const std::vector<double>& lrs) {
  std::lock_guard<std::mutex> lock(initial_lrs_mutex);
  if (auto* found = find_initial_lrs(optimizer.get()))
    *found = lrs;
  else
    initial_lrs_table.push_back({optimizer, lrs});
}

c10::IValue doubles(const std::vector<double>& values) { return c10::List<double>(values); }

c10::IValue at(const Dict& state, const char* key) { return dict_at(state, key, "LR scheduler state"); }

double number(const c10::IValue& v) { return v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble(); }

std::vector<double> numbers(const c10::IValue& v) {
  std::vector<double> out;
  for (const auto& x : v.toListRef()) out.push_back(number(x));
  return out;
}

}  // namespace

std::vector<double> initial_lrs_of(const Optimizer& optimizer) {
  std::lock_guard<std::mutex> lock(initial_lrs_mutex);
  auto* found = find_initial_lrs(&optimizer);
  return found ? *found : std::vector<double>{};
}

// --- LRScheduler -------------------------------------------------------------------------------

LRScheduler::LRScheduler(std::shared_ptr<Optimizer> optimizer) : optimizer_(std::move(optimizer)) {
  if (!optimizer_)
    throw MisconfigurationException("LR scheduler: the optimizer is null; accepted: the optimizer to schedule");
  base_lrs_ = initial_lrs(optimizer_);
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply(get_lr());
}

void LRScheduler::step(double) {
  throw MisconfigurationException(fmt::format(
      "{}.step(metric): only ReduceLROnPlateau takes a metric; accepted: step() for {}", name(), name()));
}

void LRScheduler::step_to(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  auto closed = closed_form_lr();
  apply(closed ? *closed : get_lr());
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size() && i < lrs.size(); ++i) groups[i].options().set_lr(lrs[i]);
  last_lr_ = group_lrs();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const auto& g : optimizer_->param_groups()) lrs.push_back(g.options().get_lr());
  return lrs;
}

void LRScheduler::set_base_lrs(std::vector<double> lrs) {
  base_lrs_ = std::move(lrs);
  set_initial_lrs(optimizer_, base_lrs_);
}

Dict LRScheduler::state_dict() const {
  Dict state = new_dict();
  write_state(state);
  state.insert("base_lrs", doubles(base_lrs_));
  state.insert("last_epoch", last_epoch_);
  state.insert("verbose", false);
  state.insert("_step_count", step_count_);
  state.insert("_get_lr_called_within_step", false);
  state.insert("_last_lr", doubles(last_lr_));
  return state;
}

void LRScheduler::load_state_dict(const Dict& state) {
  read_state(state);
  base_lrs_ = numbers(at(state, "base_lrs"));
  last_epoch_ = at(state, "last_epoch").toInt();
  step_count_ = at(state, "_step_count").toInt();
  last_lr_ = numbers(at(state, "_last_lr"));
}

// --- StepLR, MultiStepLR, ExponentialLR --------------------------------------------------------------

StepLR::StepLR(std::shared_ptr<Optimizer> optimizer, int64_t step_size, double gamma)
    : LRScheduler(std::move(optimizer)), step_size_(step_size), gamma_(gamma) {
  require(step_size >= 1, name(), fmt::format("step_size={} is invalid; accepted: an int >= 1", step_size));
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (auto& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_ / step_size_)));
  return lrs;
}

void StepLR::write_state(Dict& state) const {
  state.insert("step_size", step_size_);
  state.insert("gamma", gamma_);
}

void StepLR::read_state(const Dict& state) {
  step_size_ = at(state, "step_size").toInt();
  gamma_ = number(at(state, "gamma"));
}

MultiStepLR::MultiStepLR(std::shared_ptr<Optimizer> optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(std::move(optimizer)), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  auto lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  for (auto& lr : lrs) lr = lr * std::pow(gamma_, static_cast<double>(count));
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return lrs;
}

void MultiStepLR::write_state(Dict& state) const {
  // Python keeps a Counter {milestone: count}.
  auto counter = c10::impl::GenericDict(c10::IntType::get(), c10::IntType::get());
  for (int64_t m : milestones_) {
    auto it = counter.find(m);
    counter.insert_or_assign(m, it == counter.end() ? 1 : it->value().toInt() + 1);
  }
  state.insert("milestones", counter);
  state.insert("gamma", gamma_);
}

void MultiStepLR::read_state(const Dict& state) {
  milestones_.clear();
  for (const auto& e : at(state, "milestones").toGenericDict())
    for (int64_t i = 0; i < e.value().toInt(); ++i) milestones_.push_back(e.key().toInt());
  std::sort(milestones_.begin(), milestones_.end());
  gamma_ = number(at(state, "gamma"));
}

ExponentialLR::ExponentialLR(std::shared_ptr<Optimizer> optimizer, double gamma)
    : LRScheduler(std::move(optimizer)), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (auto& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
  return lrs;
}

void ExponentialLR::write_state(Dict& state) const { state.insert("gamma", gamma_); }
void ExponentialLR::read_state(const Dict& state) { gamma_ = number(at(state, "gamma")); }

// --- LinearLR, ConstantLR, PolynomialLR ------------------------------------------------------------

LinearLR::LinearLR(std::shared_ptr<Optimizer> optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(std::move(optimizer)), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  require(start_factor >= 0 && start_factor <= 1, name(),
          fmt::format("start_factor={} is invalid; accepted: a number in [0, 1]", start_factor));
  require(end_factor >= 0 && end_factor <= 1, name(),
          fmt::format("end_factor={} is invalid; accepted: a number in [0, 1]", end_factor));
  require(total_iters >= 1, name(), fmt::format("total_iters={} is invalid; accepted: an int >= 1", total_iters));
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (auto& lr : lrs) lr = lr * start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double diff = end_factor_ - start_factor_;
  for (auto& lr : lrs)
    lr = lr * (1.0 + diff / (static_cast<double>(total_iters_) * start_factor_ +
                             static_cast<double>(last_epoch_ - 1) * diff));
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) *
                                              static_cast<double>(std::min(total_iters_, last_epoch_)) /
                                              static_cast<double>(total_iters_)));
  return lrs;
}

void LinearLR::write_state(Dict& state) const {
  state.insert("start_factor", start_factor_);
  state.insert("end_factor", end_factor_);
  state.insert("total_iters", total_iters_);
}

void LinearLR::read_state(const Dict& state) {
  start_factor_ = number(at(state, "start_factor"));
  end_factor_ = number(at(state, "end_factor"));
  total_iters_ = at(state, "total_iters").toInt();
}

ConstantLR::ConstantLR(std::shared_ptr<Optimizer> optimizer, double factor, int64_t total_iters)
    : LRScheduler(std::move(optimizer)), factor_(factor), total_iters_(total_iters) {
  require(factor >= 0 && factor <= 1, name(), fmt::format("factor={} is invalid; accepted: a number in [0, 1]", factor));
  initial_step();
}

std::vector<double> ConstantLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (auto& lr : lrs) lr = lr * factor_;
  } else if (last_epoch_ == total_iters_) {
    for (auto& lr : lrs) lr = lr * (1.0 / factor_);
  }
  return lrs;
}

std::optional<std::vector<double>> ConstantLR::closed_form_lr() const {
  std::vector<double> lrs;
  const double reached = last_epoch_ >= total_iters_ ? 1.0 : 0.0;
  for (double base : base_lrs_) lrs.push_back(base * (factor_ + reached * (1 - factor_)));
  return lrs;
}

void ConstantLR::write_state(Dict& state) const {
  state.insert("factor", factor_);
  state.insert("total_iters", total_iters_);
}

void ConstantLR::read_state(const Dict& state) {
  factor_ = number(at(state, "factor"));
  total_iters_ = at(state, "total_iters").toInt();
}

PolynomialLR::PolynomialLR(std::shared_ptr<Optimizer> optimizer, int64_t total_iters, double power)
    : LRScheduler(std::move(optimizer)), total_iters_(total_iters), power_(power) {
  require(total_iters >= 1, name(), fmt::format("total_iters={} is invalid; accepted: an int >= 1", total_iters));
  initial_step();
}

std::vector<double> PolynomialLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ > total_iters_) return lrs;
  const double n = static_cast<double>(total_iters_);
  const double decay = std::pow((1.0 - static_cast<double>(last_epoch_) / n) /
                                    (1.0 - static_cast<double>(last_epoch_ - 1) / n),
                                power_);
  for (auto& lr : lrs) lr = lr * decay;
  return lrs;
}

std::optional<std::vector<double>> PolynomialLR::closed_form_lr() const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * std::pow(1.0 - static_cast<double>(std::min(total_iters_, last_epoch_)) /
                                            static_cast<double>(total_iters_),
                                  power_));
  return lrs;
}

void PolynomialLR::write_state(Dict& state) const {
  state.insert("total_iters", total_iters_);
  state.insert("power", power_);
}

void PolynomialLR::read_state(const Dict& state) {
  total_iters_ = at(state, "total_iters").toInt();
  power_ = number(at(state, "power"));
}

// --- LambdaLR ----------------------------------------------------------------------------------------

LambdaLR::LambdaLR(std::shared_ptr<Optimizer> optimizer, Lambda lr_lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer ? optimizer->param_groups().size() : 0, lr_lambda)) {}

LambdaLR::LambdaLR(std::shared_ptr<Optimizer> optimizer, std::vector<Lambda> lr_lambdas)
    : LRScheduler(std::move(optimizer)), lr_lambdas_(std::move(lr_lambdas)) {
  require(lr_lambdas_.size() == optimizer_->param_groups().size(), name(),
          fmt::format("{} lr_lambdas for {} param groups; accepted: one function, or one per param group",
                      lr_lambdas_.size(), optimizer_->param_groups().size()));
  for (const auto& f : lr_lambdas_) require(static_cast<bool>(f), name(), "an lr_lambda is empty; accepted: functions");
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (size_t i = 0; i < base_lrs_.size(); ++i) lrs.push_back(base_lrs_[i] * lr_lambdas_[i](last_epoch_));
  return lrs;
}

Dict LambdaLR::state_dict() const {
  Dict state = LRScheduler::state_dict();
  auto none = new_list();
  for (size_t i = 0; i < lr_lambdas_.size(); ++i) none.push_back(c10::IValue());
  state.insert("lr_lambdas", none);
  return state;
}

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

// --- SequentialLR ----------------------------------------------------------------------------------

SequentialLR::SequentialLR(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(std::move(optimizer)), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  require(!schedulers_.empty(), name(), "no schedulers; accepted: at least one");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    require(schedulers_[i] && schedulers_[i]->optimizer() == optimizer_, name(),
            fmt::format("schedulers[{}] belongs to another optimizer (or is null); accepted: schedulers of the "
                        "optimizer passed to SequentialLR",
                        i));
  require(milestones_.size() + 1 == schedulers_.size(), name(),
          fmt::format("{} schedulers and {} milestones; accepted: one milestone fewer than schedulers",
                      schedulers_.size(), milestones_.size()));
  last_epoch_ = 0;
  // Undo the children's construction steps and start again from the first one.
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(base_lrs_[i]);
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_.front()->initial_step();
  last_lr_ = schedulers_.front()->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto idx = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  auto& scheduler = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_)
    scheduler.step_to(0);
  else
    scheduler.step();
  last_lr_ = scheduler.get_last_lr();
}

Dict SequentialLR::state_dict() const {
  Dict state = new_dict();
  state.insert("_milestones", c10::List<int64_t>(milestones_));
  state.insert("last_epoch", last_epoch_);
  state.insert("_last_lr", doubles(last_lr_));
  auto children = new_list();
  for (const auto& s : schedulers_) children.push_back(s->state_dict());
  state.insert("_schedulers", children);
  return state;
}

void SequentialLR::load_state_dict(const Dict& state) {
  last_epoch_ = at(state, "last_epoch").toInt();
  last_lr_ = numbers(at(state, "_last_lr"));
  const auto children = at(state, "_schedulers").toListRef();
  require(children.size() == schedulers_.size(), name(),
          fmt::format("the state holds {} schedulers, this SequentialLR has {}; accepted: the same setup",
                      children.size(), schedulers_.size()));
  for (size_t i = 0; i < children.size(); ++i) schedulers_[i]->load_state_dict(children[i].toGenericDict());
}

// --- ReduceLROnPlateau -----------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(std::shared_ptr<Optimizer> optimizer, ReduceLROnPlateauOptions options)
    : LRScheduler(std::move(optimizer)), options_(std::move(options)) {
  const auto& o = options_;
  require(o.factor < 1.0, name(), fmt::format("factor={} is invalid; accepted: a number < 1.0", o.factor));
  require(o.mode == "min" || o.mode == "max", name(), fmt::format("mode='{}' is invalid; accepted: 'min', 'max'", o.mode));
  require(o.threshold_mode == "rel" || o.threshold_mode == "abs", name(),
          fmt::format("threshold_mode='{}' is invalid; accepted: 'rel', 'abs'", o.threshold_mode));
  min_lrs_.assign(optimizer_->param_groups().size(), o.min_lr);
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  last_epoch_ = 0;
  last_lr_ = group_lrs();
}

void ReduceLROnPlateau::step() {
  throw MisconfigurationException(
      "ReduceLROnPlateau.step() needs the monitored metric; accepted: step(metric), or a `monitor` in its "
      "LRSchedulerConfig so the Trainer passes the logged value");
}

bool ReduceLROnPlateau::is_better(double a) const {
  const auto& o = options_;
  if (o.mode == "min" && o.threshold_mode == "rel") return a < best_ * (1.0 - o.threshold);
  if (o.mode == "min") return a < best_ - o.threshold;
  if (o.threshold_mode == "rel") return a > best_ * (o.threshold + 1.0);
  return a > best_ + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++step_count_;
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience) {
    auto& groups = optimizer_->param_groups();
    for (size_t i = 0; i < groups.size(); ++i) {
      const double old_lr = groups[i].options().get_lr();
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[i]);
      if (old_lr - new_lr > options_.eps) groups[i].options().set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = group_lrs();
}

Dict ReduceLROnPlateau::state_dict() const {
  const auto& o = options_;
  Dict state = new_dict();
  state.insert("factor", o.factor);
  state.insert("min_lrs", doubles(min_lrs_));
  state.insert("patience", o.patience);
  state.insert("verbose", false);
  state.insert("cooldown", o.cooldown);
  state.insert("cooldown_counter", cooldown_counter_);
  state.insert("mode", o.mode);
  state.insert("threshold", o.threshold);
  state.insert("threshold_mode", o.threshold_mode);
  state.insert("best", best_);
  state.insert("num_bad_epochs", num_bad_epochs_);
  state.insert("mode_worse", o.mode == "min" ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity());
  state.insert("eps", o.eps);
  state.insert("last_epoch", last_epoch_);
  if (step_count_ > 0) state.insert("_last_lr", doubles(last_lr_));
  return state;
}

void ReduceLROnPlateau::load_state_dict(const Dict& state) {
  auto& o = options_;
  o.factor = number(at(state, "factor"));
  min_lrs_ = numbers(at(state, "min_lrs"));
  o.patience = at(state, "patience").toInt();
  o.cooldown = at(state, "cooldown").toInt();
  cooldown_counter_ = at(state, "cooldown_counter").toInt();
  o.mode = at(state, "mode").toStringRef();
  o.threshold = number(at(state, "threshold"));
  o.threshold_mode = at(state, "threshold_mode").toStringRef();
  best_ = number(at(state, "best"));
  num_bad_epochs_ = at(state, "num_bad_epochs").toInt();
  o.eps = number(at(state, "eps"));
  last_epoch_ = at(state, "last_epoch").toInt();
  if (auto it = state.find("_last_lr"); it != state.end()) {
    last_lr_ = numbers(it->value());
    step_count_ = std::max<int64_t>(step_count_, 1);
  }
}

}  // namespace lightning::optim
