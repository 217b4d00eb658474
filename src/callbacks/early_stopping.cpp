#include "lightning/callbacks/early_stopping.h"

#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <limits>

namespace lightning {

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  if (options_.monitor.empty())
    throw MisconfigurationException(
        "EarlyStopping: monitor='' is invalid; accepted: the name of a logged metric, e.g. 'val_loss'");
  if (options_.mode != "min" && options_.mode != "max")
    throw MisconfigurationException(
        fmt::format("EarlyStopping: mode='{}' is invalid; accepted: 'min', 'max'", options_.mode));
  if (options_.patience < 0)
    throw MisconfigurationException(
        fmt::format("EarlyStopping: patience={} is invalid; accepted: an integer >= 0", options_.patience));
  // Lightning keeps min_delta signed in the direction of improvement.
  min_delta_ = options_.mode == "max" ? std::abs(options_.min_delta) : -std::abs(options_.min_delta);
  const double inf = std::numeric_limits<double>::infinity();
  best_score = torch::tensor(options_.mode == "min" ? inf : -inf, torch::kFloat64);
  check_on_train_epoch_end_ = options_.check_on_train_epoch_end;
}

std::string EarlyStopping::state_key() const {
  return fmt::format("EarlyStopping{{'monitor': '{}', 'mode': '{}'}}", options_.monitor, options_.mode);
}

Dict EarlyStopping::state_dict() const {
  Dict d = new_dict();
  d.insert("wait_count", wait_count);
  d.insert("stopped_epoch", stopped_epoch);
  d.insert("best_score", best_score);
  d.insert("patience", options_.patience);
  return d;
}

void EarlyStopping::load_state_dict(const Dict& state) {
  auto int_of = [&](const char* key, int64_t fallback) {
    return state.contains(key) && state.at(key).isInt() ? state.at(key).toInt() : fallback;
  };
  wait_count = int_of("wait_count", wait_count);
  stopped_epoch = int_of("stopped_epoch", stopped_epoch);
  options_.patience = int_of("patience", options_.patience);
  if (state.contains("best_score")) {
    const auto& v = state.at("best_score");
    if (v.isTensor()) best_score = v.toTensor().to(torch::kFloat64);
    else if (v.isDouble()) best_score = torch::tensor(v.toDouble(), torch::kFloat64);
  }
}

void EarlyStopping::setup(Trainer& trainer, LightningModule&, const std::string&) {
  // Validation several times per epoch, or every few epochs: check after validation instead.
  if (!options_.check_on_train_epoch_end)
    check_on_train_epoch_end_ = trainer.val_check_interval().is_fraction_one() && trainer.check_val_every_n_epoch() == 1;
}

bool EarlyStopping::should_skip_check(Trainer& trainer) const {
  return trainer.state().fn != TrainerFn::Fitting || trainer.sanity_checking();
}

void EarlyStopping::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (!check_on_train_epoch_end_.value_or(true) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::on_validation_end(Trainer& trainer, LightningModule&) {
  if (check_on_train_epoch_end_.value_or(true) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::run_early_stopping_check(Trainer& trainer) {
  if (trainer.fast_dev_run() > 0) return;
  auto metrics = trainer.callback_metrics();
  auto it = metrics.find(options_.monitor);
  if (it == metrics.end()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : metrics) keys.push_back("'" + k + "'");
    const auto message = fmt::format(
        "Early stopping conditioned on metric '{}' which is not available. Pass in or modify your EarlyStopping "
        "callback to use any of the following: [{}]",
        options_.monitor, fmt::join(keys, ", "));
    if (options_.strict) throw MisconfigurationException(message + "; accepted: a metric logged with log()");
    if (options_.verbose) std::cerr << message << std::endl;
    return;
  }
  const double current = it->second.item<double>();
  auto [stop_here, reason] = evaluate_stopping_criteria(current);
  // One process that wants to stop stops them all: none may train on alone (Lightning's all=False).
  const bool should_stop = trainer.strategy().reduce_boolean_decision(stop_here, /*all=*/false);
  trainer.should_stop = trainer.should_stop || should_stop;
  if (should_stop) stopped_epoch = trainer.current_epoch();
  if (!reason.empty() && options_.verbose) std::cerr << reason << std::endl;
}

std::pair<bool, std::string> EarlyStopping::evaluate_stopping_criteria(double current) {
  const double best = best_score.item<double>();
  const char* order = options_.mode == "min" ? "<" : ">";
  if (options_.check_finite && !std::isfinite(current))
    return {true, fmt::format("Monitored metric {} = {} is not finite. Previous best value was {:.3f}. Signaling "
                              "Trainer to stop.",
                              options_.monitor, current, best)};
  if (options_.stopping_threshold && better(current, *options_.stopping_threshold))
    return {true, fmt::format("Stopping threshold reached: {} = {} {} {}. Signaling Trainer to stop.",
                              options_.monitor, current, order, *options_.stopping_threshold)};
  if (options_.divergence_threshold && better(-current, -*options_.divergence_threshold))
    return {true, fmt::format("Divergence threshold reached: {} = {} {} {}. Signaling Trainer to stop.",
                              options_.monitor, current, order, *options_.divergence_threshold)};
  if (better(current - min_delta_, best)) {
    auto reason = std::isfinite(best)
                      ? fmt::format("Metric {} improved by {:.3f} >= min_delta = {}. New best score: {:.3f}",
                                    options_.monitor, std::abs(best - current), std::abs(min_delta_), current)
                      : fmt::format("Metric {} improved. New best score: {:.3f}", options_.monitor, current);
    best_score = torch::tensor(current, torch::kFloat64);
    wait_count = 0;
    return {false, reason};
  }
  if (++wait_count >= options_.patience)
    return {true, fmt::format("Monitored metric {} did not improve in the last {} records. Best score: {:.3f}. "
                              "Signaling Trainer to stop.",
                              options_.monitor, wait_count, best)};
  return {false, ""};
}

}  // namespace lightning
