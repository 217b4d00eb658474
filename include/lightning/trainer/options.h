#pragma once
/// TrainerOptions: every Trainer flag, with Lightning's names, defaults and value forms.
/// Fields follow the order of Lightning's `Trainer.__init__` (2.x; 1.9-only flags sit where
/// 1.9 had them), because C++20 designated initializers must follow declaration order:
///
///     lightning::Trainer trainer({.accelerator = "cpu", .max_epochs = 5, .limit_train_batches = 0.25});
#include "lightning/accelerators/accelerator.h"
#include "lightning/plugins/plugin.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace lightning {

class Callback;
class Logger;
namespace strategies {
class Strategy;
}  // namespace strategies
namespace profilers {
class Profiler;
}  // namespace profilers

/// `accelerator`: a name ("cpu", "gpu", "cuda", "auto" or one registered in the
/// AcceleratorRegistry) or an Accelerator object (e.g. a subclass of CPUAccelerator).
struct AcceleratorInput {
  AcceleratorInput(const char* name) : name(name) {}
  AcceleratorInput(std::string name) : name(std::move(name)) {}
  template <typename A, typename = std::enable_if_t<std::is_base_of_v<accelerators::Accelerator, A>>>
  AcceleratorInput(std::shared_ptr<A> accelerator) : object(std::move(accelerator)) {}
  std::string name;
  std::shared_ptr<accelerators::Accelerator> object;
  /// As given: the quoted name, or the object's registry name in angle brackets.
  std::string str() const { return object ? "<" + object->name() + " object>" : "'" + name + "'"; }
};

/// `strategy`: a name ("auto", "single_device" or one registered in the StrategyRegistry) or a
/// Strategy object.
struct StrategyInput {
  StrategyInput(const char* name) : name(name) {}
  StrategyInput(std::string name) : name(std::move(name)) {}
  template <typename S, typename = std::enable_if_t<std::is_base_of_v<strategies::Strategy, S>>>
  StrategyInput(std::shared_ptr<S> strategy) : object(std::move(strategy)) {}
  std::string name;
  std::shared_ptr<strategies::Strategy> object;
};

/// An int count of batches or a float fraction (`= 10` and `= 0.25` both compile).
/// Lightning's rule: ints are counts, floats in [0, 1] are fractions, 0 disables.
struct BatchLimit {
  BatchLimit(int count) : value(static_cast<int64_t>(count)) {}
  BatchLimit(int64_t count) : value(count) {}
  BatchLimit(double fraction) : value(fraction) {}
  std::variant<int64_t, double> value;
  bool is_count() const { return std::holds_alternative<int64_t>(value); }
  /// The float 1.0 (a whole epoch), Lightning's default for limits and val_check_interval.
  bool is_fraction_one() const { return !is_count() && std::get<double>(value) == 1.0; }
  /// `0` or `0.0`: the stage is off.
  bool is_zero() const { return is_count() ? std::get<int64_t>(value) == 0 : std::get<double>(value) == 0.0; }
  std::string str() const;
};

/// `profiler`: a name ("simple", "advanced", "passthrough") or a Profiler object
/// (profilers/profiler.h).
struct ProfilerInput {
  ProfilerInput(const char* name) : name(name) {}
  ProfilerInput(std::string name) : name(std::move(name)) {}
  template <typename P, typename = std::enable_if_t<std::is_base_of_v<profilers::Profiler, P>>>
  ProfilerInput(std::shared_ptr<P> profiler) : object(std::move(profiler)) {}
  std::string name;
  std::shared_ptr<profilers::Profiler> object;
};

/// Lightning 1.x's tuner flags: `auto_lr_find` is false, true (the module's `lr` or
/// `learning_rate` hyperparameter) or the name of the hyperparameter to set;
/// `auto_scale_batch_size` is false, true ("power"), "power" or "binsearch".
struct TunerFlag {
  TunerFlag(bool on) : enabled(on) {}
  TunerFlag(const char* value) : enabled(true), value(value) {}
  TunerFlag(std::string value) : enabled(true), value(std::move(value)) {}
  bool enabled = false;
  std::string value;  // empty: the flag's default for `true`
};

/// `precision`: 64, 32, 16 or a string ("32-true", "bf16-mixed", ...).
struct PrecisionInput {
  PrecisionInput(int bits) : value(std::to_string(bits)) {}
  PrecisionInput(const char* spec) : value(spec) {}
  PrecisionInput(std::string spec) : value(std::move(spec)) {}
  std::string value;
};

/// `logger`: true (the default logger), false (none), one logger, or several.
struct LoggerInput {
  LoggerInput(bool enabled) : enabled(enabled) {}
  LoggerInput(std::shared_ptr<Logger> logger) : loggers{std::move(logger)} {}
  template <typename L, typename = std::enable_if_t<std::is_base_of_v<Logger, L>>>
  LoggerInput(std::shared_ptr<L> logger) : loggers{std::move(logger)} {}
  LoggerInput(std::vector<std::shared_ptr<Logger>> all) : loggers(std::move(all)) {}
  bool enabled = true;
  std::vector<std::shared_ptr<Logger>> loggers;
};

/// `fast_dev_run`: true (1 batch) or a number of batches.
struct FastDevRun {
  FastDevRun(bool on) : batches(on ? 1 : 0) {}
  FastDevRun(int n) : batches(n) {}
  int64_t batches = 0;
};

/// `max_time`: "DD:HH:MM:SS", a duration, or {{"days", 1}, {"hours", 5}}.
struct MaxTime {
  MaxTime(const char* spec) : value(std::string(spec)) {}
  MaxTime(std::string spec) : value(std::move(spec)) {}
  template <typename Rep, typename Period>
  MaxTime(std::chrono::duration<Rep, Period> d)
      : value(std::chrono::duration_cast<std::chrono::duration<double>>(d)) {}
  MaxTime(std::map<std::string, int64_t> parts) : value(std::move(parts)) {}
  std::variant<std::string, std::chrono::duration<double>, std::map<std::string, int64_t>> value;
  /// The duration; throws MisconfigurationException naming `max_time`, the value and the forms accepted.
  std::chrono::duration<double> seconds() const;
};

/// `accumulate_grad_batches`: a factor, or Lightning 1.x's map epoch -> factor
/// (`std::map<int, int>{{5, 3}, {10, 20}}`: 1 until epoch 4, 3 until epoch 9, then 20), which
/// the Trainer applies through a GradientAccumulationScheduler callback.
struct AccumulateGradBatches {
  AccumulateGradBatches(int factor) : factor(factor) {}
  AccumulateGradBatches(int64_t factor) : factor(factor) {}
  AccumulateGradBatches(std::map<int, int> schedule) : schedule(std::move(schedule)) {}
  int64_t factor = 1;
  std::map<int, int> schedule;  // empty: `factor` applies
};

/// `track_grad_norm` (Lightning 1.x): -1 (off), a p-norm order (`2`, `1.5`) or "inf".
struct TrackGradNorm {
  TrackGradNorm(int p) : value(p) {}
  TrackGradNorm(double p) : value(p) {}
  TrackGradNorm(const char* spec);
  double value = -1;
};

/// `deterministic`: true, false or "warn".
struct Deterministic {
  Deterministic(bool on) : value(on ? "true" : "false") {}
  Deterministic(const char* spec) : value(spec) {}
  std::string value;
};

struct TrainerOptions {
  AcceleratorInput accelerator = "auto";
  StrategyInput strategy = "auto";
  Devices devices = "auto";
  int64_t num_nodes = 1;
  PrecisionInput precision = "32-true";
  LoggerInput logger = true;
  std::vector<std::shared_ptr<Callback>> callbacks;
  FastDevRun fast_dev_run = false;
  /// Unset: 1000 when max_steps is -1 too, else -1 (no limit).
  std::optional<int64_t> max_epochs;
  std::optional<int64_t> min_epochs;
  int64_t max_steps = -1;
  std::optional<int64_t> min_steps;
  std::optional<MaxTime> max_time;
  std::optional<BatchLimit> limit_train_batches;
  std::optional<BatchLimit> limit_val_batches;
  std::optional<BatchLimit> limit_test_batches;
  std::optional<BatchLimit> limit_predict_batches;
  BatchLimit overfit_batches = 0.0;
  /// Lightning 1.x's flag (2.x: the `grad_norm` utility from a hook), where 1.x declares it.
  TrackGradNorm track_grad_norm = -1;
  /// Float: fraction of the training epoch; int: every N training batches.
  std::optional<BatchLimit> val_check_interval;
  /// Unset (std::nullopt) means: validate every `val_check_interval` batches across epochs.
  std::optional<int64_t> check_val_every_n_epoch = 1;
  std::optional<int64_t> num_sanity_val_steps;  // 2; -1 runs the whole validation set
  std::optional<int64_t> log_every_n_steps;     // 50
  std::optional<bool> enable_checkpointing;
  std::optional<bool> enable_progress_bar;
  std::optional<bool> enable_model_summary;
  AccumulateGradBatches accumulate_grad_batches = 1;
  std::optional<double> gradient_clip_val;
  std::optional<std::string> gradient_clip_algorithm;
  std::optional<Deterministic> deterministic;
  std::optional<bool> benchmark;
  bool inference_mode = true;
  /// Unset: true. Under a distributed strategy, each process's dataloaders get a
  /// DistributedSampler (training: shuffled with the `seed_everything` seed; a sampler of yours
  /// is wrapped). false: the loaders are used as given (shard them yourself).
  std::optional<bool> use_distributed_sampler;
  /// Lightning 1.x's name of `use_distributed_sampler`.
  std::optional<bool> replace_sampler_ddp;
  /// Unset: no profiling (a PassThroughProfiler, free on the hot path).
  std::optional<ProfilerInput> profiler;
  bool detect_anomaly = false;
  /// Lightning 1.x's flag, where 1.x declares it: `trainer.tune()` scales the batch size.
  TunerFlag auto_scale_batch_size = false;
  bool barebones = false;
  /// A CheckpointIO (e.g. `std::make_shared<plugins::AsyncCheckpointIO>()`) and a precision
  /// plugin, each at most once (and not also given by a Strategy object); cluster environments
  /// with the DDP issue.
  std::vector<std::shared_ptr<plugins::Plugin>> plugins;
  /// Under a distributed strategy, every `lightning::nn::SyncBatchNorm` of the module computes its
  /// statistics over all processes (plugins/layer_sync.h says why C++ models declare that layer
  /// rather than having their BatchNorms swapped).
  bool sync_batchnorm = false;
  int64_t reload_dataloaders_every_n_epochs = 0;
  /// Lightning 1.x's flag, where 1.x declares it: `trainer.tune()` runs the learning-rate finder.
  TunerFlag auto_lr_find = false;
  /// Unset: the current working directory.
  std::optional<std::string> default_root_dir;
};

}  // namespace lightning
