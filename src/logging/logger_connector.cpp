#include "lightning/logging/logger_connector.h"

#include "lightning/core/module.h"
#include "lightning/loggers/logger.h"
#include "lightning/loops/evaluation_loop.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/loops/prediction_loop.h"
#include "lightning/trainer/trainer.h"

namespace lightning {
namespace {

// A logger row reads every logged value; for CPU scalars read the number directly rather than
// through the dispatcher (`item()`), which matters when rows are sent every step.
double to_double(const torch::Tensor& t) {
  if (t.device().is_cpu() && t.numel() == 1 && !t.is_conj() && !t.is_neg()) {
    switch (t.scalar_type()) {
      case torch::kFloat: return *t.data_ptr<float>();
      case torch::kDouble: return *t.data_ptr<double>();
      case torch::kLong: return static_cast<double>(*t.data_ptr<int64_t>());
      case torch::kInt: return *t.data_ptr<int32_t>();
      default: break;
    }
  }
  return t.item<double>();
}

}  // namespace

void LoggerConnector::log_metrics(const OrderedMap<torch::Tensor>& metrics, std::optional<int64_t> step) {
  log_metrics(metrics, step, trainer_.batches_that_stepped());
}

void LoggerConnector::log_metrics(const OrderedMap<torch::Tensor>& metrics, std::optional<int64_t> step,
                                  int64_t default_step) {
  if (trainer_.loggers().empty() || metrics.empty()) return;
  row_.clear();
  row_slots_.clear();  // the training row's cache points into row_
  for (const auto& [key, value] : metrics) {
    logged_metrics_.insert_or_assign(key, value);
    row_.insert_or_assign(key, to_double(value));
  }
  if (!step) {
    // A logged "step" value is the row's step, as in Lightning.
    if (auto it = row_.find("step"); it != row_.end()) {
      step = static_cast<int64_t>(it->second);
      row_.erase(it);
    }
  }
  // Lightning adds "epoch" (unless logged) to rows without a step, and not to logged_metrics.
  if (!step) row_.try_emplace("epoch", static_cast<double>(trainer_.current_epoch()));
  send_row(step.value_or(default_step));
}

void LoggerConnector::send_row(int64_t step) {
  if (!trainer_.is_global_zero()) return;  // loggers write from global rank 0 only (Lightning's rank_zero_only)
  for (const auto& logger : trainer_.loggers()) {
    logger->log_metrics(row_, step);
    logger->save();
  }
}

bool LoggerConnector::should_update_logs() const {
  const int64_t n = trainer_.log_every_n_steps();
  if (n == 0) return false;
  // Lightning's: counted on the running loop, the fit loop's batches that stepped (+ 1, as it is
  // asked before the step too) or an evaluation or prediction loop's batches; true between loops.
  const auto stage = trainer_.state().stage;
  if (!stage) return true;
  int64_t step = 0;
  switch (*stage) {
    case RunningStage::Training:
    case RunningStage::Tuning: step = trainer_.batches_that_stepped() + 1; break;
    case RunningStage::SanityChecking:
    case RunningStage::Validating:
      step = (trainer_.runs_fit_loop() ? trainer_.fit_loop().epoch_loop.val_loop : trainer_.validate_loop())
                 .batch_progress.current.ready;
      break;
    case RunningStage::Testing: step = trainer_.test_loop().batch_progress.current.ready; break;
    case RunningStage::Predicting: step = trainer_.predict_loop().batch_progress.current.ready; break;
  }
  return step % n == 0 || trainer_.should_stop;
}

void LoggerConnector::on_batch_start(ResultCollection& results) {
  epoch_end_reached_ = false;
  results.on_batch_start();
}

void LoggerConnector::on_batch_end(ResultCollection& results) {
  if (!trainer_.sanity_checking() && results.take_new_keys()) merge(results.metrics(!epoch_end_reached_));
}

void LoggerConnector::update_train_step_metrics(const ResultCollection& results, bool accumulating) {
  if (accumulating || trainer_.loggers().empty() || results.empty()) return;
  if (trainer_.fast_dev_run() == 0 && !should_update_logs()) return;
  // The same keys are logged at most steps: the row is then refilled in place, with no map
  // building or allocation (logged_metrics is brought up to date when read).
  auto in_row = [](const ResultMetric& m) { return m.logger && m.on_step && m.step_value.defined(); };
  size_t n = 0;
  bool cached = true;
  for (const ResultMetric* m : results.ordered()) {
    if (!in_row(*m)) continue;
    cached = cached && n < row_slots_.size() && row_slots_[n].first == m;
    ++n;
  }
  if (n == 0) return;
  if (!cached || n != row_slots_.size()) {
    row_.clear();
    row_slots_.clear();
    bool has_step = false;
    for (const ResultMetric* m : results.ordered()) {
      if (!in_row(*m)) continue;
      const bool is_step = m->step_name == "step";  // the row's step, as in Lightning
      has_step = has_step || is_step;
      row_slots_.emplace_back(m, is_step ? nullptr : &row_[m->step_name]);
    }
    epoch_slot_ = nullptr;
    if (!has_step)
      if (auto [epoch, added] = row_.try_emplace("epoch"); added) epoch_slot_ = &epoch->second;
  }
  std::optional<int64_t> step;
  for (const auto& [m, slot] : row_slots_) {
    const double value = to_double(m->step_value);
    if (slot)
      *slot = value;
    else
      step = static_cast<int64_t>(value);
  }
  if (epoch_slot_) *epoch_slot_ = static_cast<double>(trainer_.current_epoch());
  send_row(step.value_or(trainer_.batches_that_stepped()));
}

void LoggerConnector::merge(const MetricViews& views) {
  for (const auto& [k, v] : views.callback) callback_metrics_[k] = v;
  for (const auto& [k, v] : views.pbar) progress_bar_metrics_[k] = v;
  for (const auto& [k, v] : views.log) logged_metrics_[k] = v;
}

void LoggerConnector::update_train_epoch_metrics(ResultCollection& results) {
  // The last batch's step values first, then the epoch values (which win for plain names).
  merge(results.metrics(true));
  auto views = results.metrics(false);
  merge(views);
  // Lightning logs the epoch row at the step of the epoch's last optimizer step.
  log_metrics(views.log, std::nullopt, trainer_.batches_that_stepped() - 1);
  results.reset();
}

void LoggerConnector::update_eval_step_metrics(ResultCollection& results, int64_t step) {
  if (trainer_.loggers().empty() || trainer_.sanity_checking() || results.empty()) return;
  log_metrics(results.metrics(true).log, step);
}

void LoggerConnector::update_eval_epoch_metrics(ResultCollection& results) {
  if (trainer_.sanity_checking()) return;
  merge(results.metrics(true));  // step values of evaluation reach logged and bar metrics only
  auto views = results.metrics(false);
  merge(views);
  log_metrics(views.log);
}

void LoggerConnector::reset_metrics() {
  callback_metrics_.clear();
  logged_metrics_.clear();
  progress_bar_metrics_.clear();
}

void LoggerConnector::refresh_from_active_results() {
  if (trainer_.sanity_checking()) return;
  if (auto* results = trainer_.results()) merge(results->metrics(!epoch_end_reached_));
}

OrderedMap<torch::Tensor>& LoggerConnector::callback_metrics() {
  refresh_from_active_results();
  return callback_metrics_;
}

OrderedMap<torch::Tensor>& LoggerConnector::logged_metrics() {
  refresh_from_active_results();
  return logged_metrics_;
}

OrderedMap<double> LoggerConnector::progress_bar_metrics() {
  refresh_from_active_results();
  OrderedMap<double> out;
  for (const auto& [k, v] : progress_bar_metrics_) out[k] = to_double(v);
  return out;
}

}  // namespace lightning
