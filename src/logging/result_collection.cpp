#include "lightning/logging/result_collection.h"

#include "lightning/strategies/strategy.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <iostream>

namespace lightning {
namespace {

// Step values are kept as tensors and folded into one value every kFoldEvery steps, so `log`
// never synchronises or reduces per step, and memory stays bounded over long epochs.
constexpr size_t kFoldEvery = 1024;

const char* reduce_name(ReduceFx fx) {
  switch (fx) {
    case ReduceFx::Max:
      return "max";
    case ReduceFx::Min:
      return "min";
    case ReduceFx::Sum:
      return "sum";
    case ReduceFx::Mean:
      break;
  }
  return "mean";
}

ReduceFx parse_reduce(std::string_view fx, const std::string& name, const std::string& reduce) {
  if (reduce == "mean" || reduce == "avg") return ReduceFx::Mean;
  if (reduce == "max") return ReduceFx::Max;
  if (reduce == "min") return ReduceFx::Min;
  if (reduce == "sum") return ReduceFx::Sum;
  throw MisconfigurationException(fmt::format(
      "self.log('{}', ..., reduce_fx='{}') in `{}`: unknown reduce_fx; accepted: 'mean', 'max', 'min', 'sum'", name,
      reduce, fx));
}

}  // namespace

void ResultMetric::update(const torch::Tensor& value, double batch_size) {
  step_value = value;
  updated_this_epoch = true;
  if (!on_epoch) return;
  pending.push_back(value);
  pending_weights.push_back(batch_size);
  epoch_value = torch::Tensor();
  if (pending.size() >= kFoldEvery) fold();
}

void ResultMetric::fold() {
  if (pending.empty()) return;
  auto values = torch::stack(pending).to(torch::kDouble);
  torch::Tensor folded;
  double weight = 0;
  switch (reduce) {
    case ReduceFx::Mean: {
      auto w = torch::tensor(pending_weights, torch::kDouble).to(values.device());
      for (double x : pending_weights) weight += x;
      folded = weight > 0 ? (values * w).sum() / weight : values.mean();
      break;
    }
    case ReduceFx::Sum:
      folded = values.sum();
      weight = 1;
      break;
    case ReduceFx::Max:
      folded = values.max();
      weight = 1;
      break;
    case ReduceFx::Min:
      folded = values.min();
      weight = 1;
      break;
  }
  pending.assign(1, folded);
  pending_weights.assign(1, weight);
}

torch::Tensor ResultMetric::compute(strategies::Strategy* sync) {
  if (!epoch_value.defined() && !pending.empty()) {
    auto dtype = pending.front().scalar_type();
    fold();
    auto value = pending.front();
    if (sync && reduce == ReduceFx::Mean) {
      // One collective for both sums.
      auto sums = sync->reduce(torch::stack({value * pending_weights.front(),
                                             torch::tensor(pending_weights.front(), value.options())}),
                               "sum");
      value = sums[0] / sums[1];
    } else if (sync) {
      value = sync->reduce(value, reduce_name(reduce));
    }
    epoch_value = value.to(dtype);
  }
  return epoch_value;
}

void ResultMetric::reset() {
  step_value = torch::Tensor();
  pending.clear();
  pending_weights.clear();
  epoch_value = torch::Tensor();
  updated_this_epoch = false;
}

void ResultCollection::log(std::string_view fx, const std::string& name, const torch::Tensor& value,
                           bool on_step, bool on_epoch, const LogOptions& options, double batch_size) {
  if (value.numel() != 1)
    throw MisconfigurationException(fmt::format(
        "self.log('{}', value) in `{}`: value must be a scalar (one element), got a tensor of shape {}", name, fx,
        fmt::format("{}", fmt::join(value.sizes(), ", "))));
  // Reuses one buffer for the "fx.name" key: no allocation per call once it has grown.
  key_.assign(fx).append(".").append(name);
  auto it = metrics_.find(key_);
  if (it == metrics_.end()) {
    ResultMetric m;
    m.fx = std::string(fx);
    m.name = name;
    m.prog_bar = options.prog_bar;
    m.logger = options.logger;
    m.on_step = on_step;
    m.on_epoch = on_epoch;
    m.enable_graph = options.enable_graph;
    m.reduce = parse_reduce(fx, name, options.reduce_fx);
    m.sync_dist = options.sync_dist && strategy_ && strategy_->world_size() > 1;
    if (on_epoch && !options.sync_dist && strategy_ && strategy_->world_size() > 1 && strategy_->is_global_zero())
      std::cerr << fmt::format(
                       "It is recommended to use `self.log('{}', ..., sync_dist=True)` when logging on epoch level in "
                       "distributed setting to accumulate the metric across devices.",
                       name)
                << std::endl;
    m.step_name = m.forked() ? name + "_step" : name;
    m.epoch_name = m.forked() ? name + "_epoch" : name;
    it = metrics_.emplace(key_, std::move(m)).first;
    ordered_.push_back(&it->second);
    new_keys_ = true;
  } else {
    const auto& m = it->second;
    if (m.prog_bar != options.prog_bar || m.logger != options.logger || m.on_step != on_step ||
        m.on_epoch != on_epoch || m.reduce != parse_reduce(fx, name, options.reduce_fx))
      throw MisconfigurationException(
          fmt::format("You called `self.log('{}', ...)` twice in `{}` with different arguments; accepted: the same "
                      "prog_bar/logger/on_step/on_epoch/reduce_fx every time",
                      name, fx));
  }
  auto stored = value.dim() == 0 ? value : value.reshape({});
  if (!options.enable_graph && stored.requires_grad()) stored = stored.detach();
  if (!stored.is_floating_point()) stored = stored.to(torch::kFloat);
  auto& metric = it->second;
  metric.update(stored, batch_size);
  // The epoch accumulates this process's values; the step value shown and logged is everyone's.
  if (metric.sync_dist && on_step) metric.step_value = strategy_->reduce(stored, reduce_name(metric.reduce));
}

MetricViews ResultCollection::metrics(bool on_step) {
  MetricViews views;
  for (ResultMetric* metric : ordered_) {
    auto& m = *metric;
    torch::Tensor value;
    if (on_step && m.on_step)
      value = m.step_value;
    else if (!on_step && m.on_epoch && m.updated_this_epoch)
      value = m.compute(m.sync_dist ? strategy_ : nullptr);
    if (!value.defined()) continue;
    if (!m.enable_graph && value.requires_grad()) value = value.detach();
    const auto& forked = m.forked_name(on_step);
    if (m.logger) views.log[forked] = value;
    if (training_ || (m.on_epoch && !on_step)) {
      views.callback[m.name] = value;
      views.callback[forked] = value;
    }
    if (m.prog_bar) views.pbar[forked] = value;
  }
  return views;
}

void ResultCollection::on_batch_start() {
  for (auto& [key, m] : metrics_) m.step_value = torch::Tensor();
}

void ResultCollection::reset() {
  for (auto& [key, m] : metrics_) m.reset();
}

}  // namespace lightning
