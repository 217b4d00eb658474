// The schedulers whose learning rate is the base lr times a factor of the epoch: StepLR,
// MultiStepLR, ExponentialLR, LinearLR, ConstantLR, PolynomialLR and LambdaLR (formulas as
// torch 1.13's, see lr_scheduler.cpp).
#include "lightning/optim/lr_scheduler.h"

#include "optim/lr_scheduler_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

namespace lightning::optim {
using namespace internal;  // lr_scheduler_common.h

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

}  // namespace lightning::optim
