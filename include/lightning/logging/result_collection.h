#pragma once
/// ResultCollection: what `LightningModule::log` recorded in one loop, and how step values
/// become epoch values (Lightning's `_ResultCollection`).
#include "lightning/core/module.h"
#include "lightning/utilities/ordered_map.h"

#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace lightning {
namespace strategies {
class Strategy;
}  // namespace strategies

enum class ReduceFx { Mean, Max, Min, Sum };

/// One logged key: how it was logged and its values so far.
struct ResultMetric {
  std::string fx;    // the hook that logged it
  std::string name;  // the key, with "/dataloader_idx_N" when added
  bool prog_bar = false;
  bool logger = true;
  bool on_step = false;
  bool on_epoch = true;
  bool enable_graph = false;
  ReduceFx reduce = ReduceFx::Mean;
  /// `sync_dist` in a run of several processes: step and epoch values are reduced across them.
  bool sync_dist = false;

  /// Logged with both on_step and on_epoch: reported as name_step / name_epoch.
  bool forked() const { return on_step && on_epoch; }
  /// The key of its step or epoch value in the metric dictionaries and logger rows.
  const std::string& forked_name(bool step) const { return step ? step_name : epoch_name; }
  std::string step_name, epoch_name;

  /// The value logged in the current batch (undefined when not logged in it).
  torch::Tensor step_value;
  /// Step values not yet folded into the epoch value, with their batch sizes (weights).
  std::vector<torch::Tensor> pending;
  std::vector<double> pending_weights;
  /// The epoch value, computed at most once per epoch.
  torch::Tensor epoch_value;
  bool updated_this_epoch = false;

  void update(const torch::Tensor& value, double batch_size);
  /// The epoch value; with `sync`, reduced across processes as Lightning does: `reduce_fx` of the
  /// processes' values, or for "mean" the sum of the weighted sums over the sum of batch sizes.
  torch::Tensor compute(strategies::Strategy* sync);
  void reset();

 private:
  void fold();
};

/// The three views Lightning derives from logged values.
/// In the order the keys were first logged (Lightning's dict order).
struct MetricViews {
  OrderedMap<torch::Tensor> log, callback, pbar;
};

class ResultCollection {
 public:
  /// `training`: step values also reach callback metrics (as in Lightning's training loop).
  explicit ResultCollection(bool training) : training_(training) {}

  /// Records `value` under `fx`/`name`. Throws MisconfigurationException when the same key is
  /// logged again in `fx` with different options, the tensor is not a scalar, or `reduce_fx`
  /// is unknown.
  void log(std::string_view fx, const std::string& name, const torch::Tensor& value, bool on_step,
           bool on_epoch, const LogOptions& options, double batch_size);
  /// Step values (on_step=true) or epoch values of everything logged.
  MetricViews metrics(bool on_step);
  /// Forgets the values of the current batch.
  void on_batch_start();
  /// Forgets everything (start of an epoch).
  void reset();
  bool empty() const { return metrics_.empty(); }
  bool training() const { return training_; }
  /// The strategy whose `reduce` serves `sync_dist` (null or one process: nothing to reduce).
  void set_strategy(strategies::Strategy* strategy) { strategy_ = strategy; }
  /// Every logged key, in the order first logged.
  const std::vector<ResultMetric*>& ordered() const { return ordered_; }
  /// Whether a key was logged for the first time since the last call.
  bool take_new_keys() { return std::exchange(new_keys_, false); }

 private:
  bool training_;
  strategies::Strategy* strategy_ = nullptr;
  // Keyed by "fx.name"; `ordered_` points into it (map nodes do not move).
  std::map<std::string, ResultMetric> metrics_;
  std::vector<ResultMetric*> ordered_;
  std::string key_;
  bool new_keys_ = false;
};

}  // namespace lightning
