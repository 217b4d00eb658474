#pragma once
/// LoggerConnector: turns what `log` recorded into the trainer's metric dictionaries and
/// into logger rows (every `log_every_n_steps`, and at epoch ends), as Lightning does.
#include "lightning/logging/result_collection.h"

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lightning {

class Trainer;

class LoggerConnector {
 public:
  explicit LoggerConnector(Trainer& trainer) : trainer_(trainer) {}

  /// Sends `metrics` to every logger (adding "epoch", and the trainer's `batches_that_stepped`
  /// as the step, when `step` is unset) and records them as logged metrics. A no-op without loggers.
  void log_metrics(const OrderedMap<torch::Tensor>& metrics, std::optional<int64_t> step = std::nullopt);
  /// A row is due at this batch (Lightning's `should_update_logs`): every `log_every_n_steps`-th
  /// batch of the running loop, or when training should stop; always outside the loops.
  bool should_update_logs() const;
  void on_batch_start(ResultCollection& results);
  /// After a batch's end hooks: keys logged for the first time take their place in the three
  /// dictionaries, so those iterate in the order keys were first logged, as Lightning's (which
  /// updates them after every batch). A flag test when no key is new.
  void on_batch_end(ResultCollection& results);
  /// After a training batch: a logger row every `log_every_n_steps` optimizer steps (none while
  /// gradients are `accumulating`).
  void update_train_step_metrics(const ResultCollection& results, bool accumulating);
  /// At a training epoch's end: the epoch values into the dictionaries and a logger row.
  void update_train_epoch_metrics(ResultCollection& results);
  void update_eval_step_metrics(ResultCollection& results, int64_t step);
  /// Epoch end of an evaluation: updates the dictionaries, logs a row (not when sanity checking).
  void update_eval_epoch_metrics(ResultCollection& results);
  void epoch_end_reached() { epoch_end_reached_ = true; }
  void on_epoch_start() { epoch_end_reached_ = false; }
  /// Clears the three dictionaries (start of a run, end of the sanity check).
  void reset_metrics();

  /// The dictionaries are brought up to date when read (never per step): from the running
  /// loop's results, and at epoch ends when a loop's values are final.
  /// In the order keys were first logged, as Lightning's dicts.
  OrderedMap<torch::Tensor>& callback_metrics();
  OrderedMap<torch::Tensor>& logged_metrics();
  OrderedMap<double> progress_bar_metrics();

 private:
  void refresh_from_active_results();
  void merge(const MetricViews& views);
  /// `log_metrics` with the row step used when `step` is unset and no "step" was logged.
  void log_metrics(const OrderedMap<torch::Tensor>& metrics, std::optional<int64_t> step, int64_t default_step);
  /// Sends `row_` to every logger at `step`.
  void send_row(int64_t step);
  Trainer& trainer_;
  bool epoch_end_reached_ = false;
  OrderedMap<torch::Tensor> callback_metrics_, logged_metrics_, progress_bar_metrics_;
  // The last row sent to the loggers. When it was a training step row, `row_slots_` says which
  // logged value fills which cell (nullptr: the row's step) and `epoch_slot_` the added epoch.
  std::map<std::string, double> row_;
  std::vector<std::pair<const ResultMetric*, double*>> row_slots_;
  double* epoch_slot_ = nullptr;
};

}  // namespace lightning
