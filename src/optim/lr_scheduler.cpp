// The base of every scheduler (PyTorch's `_LRScheduler`), the per-optimizer `initial_lr`
// registry, and SequentialLR, which chains schedulers of one optimizer. The schedulers
// themselves: lr_scheduler_simple.cpp, lr_scheduler_cyclic.cpp, lr_scheduler_plateau.cpp.
//
// The formulas follow torch 1.13's `torch/optim/lr_scheduler.py` operation by operation, so the
// learning rates are the same doubles Python computes (tests/optim/test_lr_scheduler.cpp checks).
#include "lightning/optim/lr_scheduler.h"

#include "lightning/utilities/errors.h"
#include "optim/lr_scheduler_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace lightning::optim {
using namespace internal;  // lr_scheduler_common.h

namespace {

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

}  // namespace lightning::optim
