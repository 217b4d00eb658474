#pragma once
/// The Trainer: `fit`, `validate`, `test` and `predict` a LightningModule, as Lightning does.
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/core/datamodule.h"
#include "lightning/core/module.h"
#include "lightning/data/dataloader.h"
#include "lightning/trainer/options.h"
#include "lightning/trainer/state.h"
#include "lightning/tuner/options.h"
#include "lightning/utilities/ordered_map.h"

#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace lightning {

class Callback;
class EarlyStopping;
class Logger;
class ModelCheckpoint;
class FitLoop;
class EvaluationLoop;
class PredictionLoop;
class LoggerConnector;
class ResultCollection;
class TQDMProgressBar;
namespace detail {
struct ResolvedOptions;
}  // namespace detail
namespace accelerators {
class Accelerator;
}  // namespace accelerators
namespace plugins {
class CheckpointIO;
class Precision;
}  // namespace plugins
namespace strategies {
class Strategy;
}  // namespace strategies
namespace profilers {
class Profiler;
}  // namespace profilers
namespace tuner::detail {
struct TrainerAccess;
}  // namespace tuner::detail
namespace detail {
class ProfilerScope;
/// Who owns a profiled hook (the prefix of its action name).
enum class HookOwner { Callback, LightningModule, LightningDataModule, Strategy };
}  // namespace detail

/// Metric name -> value, in the order the names were first logged (Lightning's dict order).
using MetricMap = OrderedMap<torch::Tensor>;

/// Training and evaluation driver. Construction validates every flag (throwing
/// MisconfigurationException naming the flag, the value and what is accepted).
///
///     lightning::Trainer trainer({.max_epochs = 2, .limit_train_batches = 100});
///     trainer.fit(model, train_loader, val_loader);
///     auto results = trainer.test(model, test_loader);
class Trainer {
 public:
  explicit Trainer(TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // --- entry points ---------------------------------------------------------------------
  /// Dataloaders given here take precedence over the datamodule's and the module's hooks.
  /// `ckpt_path` resumes training from a checkpoint: a path, "last" (the newest last/HPC
  /// checkpoint of the ModelCheckpoint callbacks) or "hpc"; without one, an HPC checkpoint
  /// left by SIGTERM in `default_root_dir` is resumed (Lightning's SLURM requeue behaviour).
  void fit(std::shared_ptr<LightningModule> model, std::optional<DataLoader> train_dataloader = std::nullopt,
           DataLoaders val_dataloaders = {}, std::optional<std::string> ckpt_path = std::nullopt);
  void fit(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
           std::optional<std::string> ckpt_path = std::nullopt);
  /// One map of metrics (callback metrics logged in the epoch) per dataloader. `ckpt_path`
  /// loads weights first: a path, "best" or "last".
  std::vector<std::map<std::string, double>> validate(std::shared_ptr<LightningModule> model,
                                                      DataLoaders dataloaders = {},
                                                      std::optional<std::string> ckpt_path = std::nullopt,
                                                      bool verbose = true);
  std::vector<std::map<std::string, double>> validate(std::shared_ptr<LightningModule> model,
                                                      std::shared_ptr<LightningDataModule> datamodule,
                                                      std::optional<std::string> ckpt_path = std::nullopt,
                                                      bool verbose = true);
  std::vector<std::map<std::string, double>> test(std::shared_ptr<LightningModule> model,
                                                  DataLoaders dataloaders = {},
                                                  std::optional<std::string> ckpt_path = std::nullopt,
                                                  bool verbose = true);
  std::vector<std::map<std::string, double>> test(std::shared_ptr<LightningModule> model,
                                                  std::shared_ptr<LightningDataModule> datamodule,
                                                  std::optional<std::string> ckpt_path = std::nullopt,
                                                  bool verbose = true);
  /// The outputs of `predict_step`, one vector per dataloader (empty when not returned).
  std::vector<std::vector<torch::IValue>> predict(std::shared_ptr<LightningModule> model,
                                                  DataLoaders dataloaders = {}, bool return_predictions = true,
                                                  std::optional<std::string> ckpt_path = std::nullopt);
  std::vector<std::vector<torch::IValue>> predict(std::shared_ptr<LightningModule> model,
                                                  std::shared_ptr<LightningDataModule> datamodule,
                                                  bool return_predictions = true,
                                                  std::optional<std::string> ckpt_path = std::nullopt);

  /// Lightning 1.x's `tune`: with `auto_scale_batch_size`, scales the batch size, then with
  /// `auto_lr_find`, runs the learning-rate finder and sets its suggestion (tuner/tuner.h);
  /// `state().fn` and `state().stage` are Tuning while it runs.
  tuner::TuneResult tune(std::shared_ptr<LightningModule> model, std::optional<DataLoader> train_dataloader = std::nullopt,
                         DataLoaders val_dataloaders = {}, tuner::BatchSizeScalerOptions scale_batch_size_kwargs = {},
                         tuner::LRFinderOptions lr_find_kwargs = {});
  tuner::TuneResult tune(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                         tuner::BatchSizeScalerOptions scale_batch_size_kwargs = {},
                         tuner::LRFinderOptions lr_find_kwargs = {});

  // --- command line (CLI11; LightningCLI is in cli/cli.h) ------------------------------------
  /// Adds every Trainer flag to `app` (`--max_epochs 10 --limit_train_batches 0.25 ...`), each
  /// with its default and one line of doc, and `--callbacks NAME --callbacks.ARG VALUE`. Sets
  /// `allow_extras`, so that unknown flags reach options_from_argparse_args (docs/cli.md).
  static void add_argparse_args(CLI::App& app);
  /// The options the flags of a parsed `app` give: flags given on the command line replace the
  /// fields of `defaults` (their callbacks and plugins are added). Throws MisconfigurationException
  /// for a value of the wrong form (naming the flag and what it accepts) and for an unknown flag
  /// (with the closest names); range checks are the Trainer's, when it is built.
  static TrainerOptions options_from_argparse_args(const CLI::App& app, TrainerOptions defaults = {});
  /// A Trainer built from `options_from_argparse_args(app, defaults)`.
  static std::unique_ptr<Trainer> from_argparse_args(const CLI::App& app, TrainerOptions defaults = {});

  // --- checkpoints ------------------------------------------------------------------------
  /// Writes the checkpoint of the current state to `filepath` (atomically, through the
  /// CheckpointIO plugin). `weights_only` leaves out optimizer, scheduler and callback states.
  void save_checkpoint(const std::string& filepath, bool weights_only = false);
  /// The checkpoint dictionary of the current state (Lightning's `dump_checkpoint`).
  Dict dump_checkpoint(bool weights_only = false);
  /// The checkpoint the current or last run was restored from.
  std::optional<std::string> ckpt_path() const { return ckpt_path_; }
  /// The strategy's CheckpointIO (given in `plugins`, by a Strategy object, or TorchCheckpointIO).
  plugins::CheckpointIO& checkpoint_io() const;
  /// The first ModelCheckpoint callback, or nullptr.
  ModelCheckpoint* checkpoint_callback() const;
  std::vector<ModelCheckpoint*> checkpoint_callbacks() const;
  /// The first EarlyStopping callback, or nullptr.
  EarlyStopping* early_stopping_callback() const;
  std::vector<EarlyStopping*> early_stopping_callbacks() const;
  /// True once a SIGTERM arrived during the run (the Trainer then saves an HPC checkpoint and
  /// exits with status 143).
  bool received_sigterm() const;

  // --- devices and processes ---------------------------------------------------------------
  /// The strategy built from `strategy`, `accelerator`, `devices` and `plugins` (or passed as an object).
  strategies::Strategy& strategy() const { return *strategy_; }
  accelerators::Accelerator& accelerator() const;
  /// The strategy's precision plugin, built from the `precision` flag (or passed in `plugins`).
  plugins::Precision& precision_plugin() const;
  /// The root device of the strategy (where the module and batches go).
  torch::Device device() const;
  int64_t num_devices() const { return static_cast<int64_t>(device_ids_.size()); }
  /// The indices of the devices `devices` selected (the CPU's processes count from 0).
  const std::vector<int64_t>& device_ids() const { return device_ids_; }
  int64_t num_nodes() const { return num_nodes_; }
  bool is_global_zero() const;
  int64_t global_rank() const;
  int64_t local_rank() const;
  int64_t node_rank() const;
  int64_t world_size() const;

  // --- properties -------------------------------------------------------------------------
  const TrainerState& state() const { return state_; }
  /// The `profiler` flag's profiler (a PassThroughProfiler when none was asked for).
  profilers::Profiler& profiler() const { return *profiler_; }
  /// False for the PassThroughProfiler: hooks then skip naming and timing their actions.
  bool profiling() const { return profiling_; }
  /// Set to true (e.g. from a callback) to stop training after the current batch, once
  /// `min_epochs`/`min_steps` are met.
  bool should_stop = false;
  /// True after a KeyboardInterrupt-style stop (first Ctrl+C) of the last run.
  bool interrupted() const { return state_.status == TrainerStatus::Interrupted; }
  int64_t current_epoch() const;
  /// Optimizer steps taken.
  int64_t global_step() const;
  bool is_last_batch() const;
  /// Metrics that callbacks see (e.g. for monitoring): latest step or epoch values.
  MetricMap callback_metrics();
  /// Metrics sent to the loggers.
  MetricMap logged_metrics();
  /// Metrics shown in the progress bar.
  OrderedMap<double> progress_bar_metrics();
  std::shared_ptr<Logger> logger() const;
  const std::vector<std::shared_ptr<Logger>>& loggers() const { return loggers_; }
  /// Lightning's `log_dir`: the first logger's log_dir (its save_dir for loggers other than
  /// TensorBoard/CSV), `default_root_dir` without loggers; unset under `fast_dev_run`'s DummyLogger.
  std::optional<std::string> log_dir() const;
  std::string default_root_dir() const;
  /// Optimizer steps the current `fit` will take (max_steps, or epochs x batches / accumulation).
  int64_t estimated_stepping_batches() const;
  const std::vector<std::shared_ptr<Callback>>& callbacks() const { return callbacks_; }
  /// The progress bar callback, or nullptr when disabled.
  TQDMProgressBar* progress_bar_callback() const;
  LightningModule& lightning_module() const;
  /// The LR scheduler configs from configure_optimizers, in config order.
  const std::vector<LRSchedulerConfig>& lr_scheduler_configs() const;
  std::shared_ptr<LightningDataModule> datamodule() const { return datamodule_; }
  /// Batches of this fit that stepped an optimizer (or would have, without one): the step of
  /// logger rows (Lightning's `_batches_that_stepped`).
  int64_t batches_that_stepped() const;
  /// A validation run of this fit (the sanity check aside) went through batches.
  bool validation_has_run() const;

  bool training() const { return state_.stage == RunningStage::Training; }
  bool sanity_checking() const { return state_.stage == RunningStage::SanityChecking; }
  bool validating() const { return state_.stage == RunningStage::Validating; }
  bool testing() const { return state_.stage == RunningStage::Testing; }
  bool predicting() const { return state_.stage == RunningStage::Predicting; }
  /// `fast_dev_run` batches (0 when off).
  int64_t fast_dev_run() const;
  /// Lightning's resolved limits: -1 when unlimited (1000 when neither max_epochs nor
  /// max_steps nor max_time is given).
  int64_t max_epochs() const;
  /// 0 by default; 1 when only `min_steps` is given.
  int64_t min_epochs() const;
  int64_t max_steps() const;
  std::optional<int64_t> min_steps() const;
  int64_t log_every_n_steps() const;
  std::optional<int64_t> check_val_every_n_epoch() const;
  /// Batches whose gradients add up before an optimizer step (the flag, or the factor a
  /// GradientAccumulationScheduler set for this epoch).
  int64_t accumulate_grad_batches() const;
  /// Throws MisconfigurationException for a factor < 1.
  void set_accumulate_grad_batches(int64_t factor);
  /// The `val_check_interval` flag as given (1.0 by default).
  const BatchLimit& val_check_interval() const;
  /// Validation runs every this many training batches (may be "infinite" = INT64_MAX).
  int64_t val_check_batch() const;
  bool enable_validation() const;

  // --- dataloaders (the loops' after their data setup) ----------------------------------
  std::optional<DataLoader> train_dataloader() const;
  /// The fit's validation dataloaders, else those of `validate`.
  const std::vector<DataLoader>& val_dataloaders() const;
  const std::vector<DataLoader>& test_dataloaders() const;
  const std::vector<DataLoader>& predict_dataloaders() const;
  /// Batches per training epoch after `limit_train_batches` (INT64_MAX when unknown).
  int64_t num_training_batches() const;
  /// The fit's validation batches per dataloader while fitting, else `validate`'s.
  const std::vector<int64_t>& num_val_batches() const;
  std::vector<int64_t> num_sanity_val_batches() const;
  const std::vector<int64_t>& num_test_batches() const;
  const std::vector<int64_t>& num_predict_batches() const;

  // --- used by loops, callbacks and LightningModule::log ------------------------------
  const detail::ResolvedOptions& options() const { return *options_; }
  LoggerConnector& logger_connector() { return *logger_connector_; }
  FitLoop& fit_loop() const { return *fit_loop_; }
  EvaluationLoop& validate_loop() const { return *validate_loop_; }
  EvaluationLoop& test_loop() const { return *test_loop_; }
  PredictionLoop& predict_loop() const { return *predict_loop_; }
  /// The dataloaders of `stage`: those passed to the entry point, else the datamodule's, else
  /// the module's `*_dataloader` hook's; under a distributed strategy with a DistributedSampler
  /// each (`use_distributed_sampler`).
  DataLoaders request_dataloaders(RunningStage stage);
  /// The results of the running loop (where `log` writes), or nullptr.
  ResultCollection* results() { return active_results_; }
  void set_active_results(ResultCollection* results);
  /// Name of the hook running now (for `log`'s rules).
  const char* current_fx() const { return current_fx_; }
  /// Calls `fn(callback)` on every callback, recording `hook` as the running hook.
  template <typename Fn>
  void call_callbacks(const char* hook, Fn&& fn) {
    call_callbacks(hook, std::forward<Fn>(fn), [](const Callback&) { return true; });
  }
  /// On the callbacks for which `only(callback)` holds.
  template <typename Fn, typename Filter>
  void call_callbacks(const char* hook, Fn&& fn, Filter&& only);
  /// Calls `fn(module)`, recording `hook` as the running hook; returns what fn returns.
  template <typename Fn>
  decltype(auto) call_module(const char* hook, Fn&& fn);
  /// Both, callbacks first (Lightning 2.x order).
  template <typename CallbackFn, typename ModuleFn>
  void call_hooks(const char* hook, CallbackFn&& cb, ModuleFn&& module);
  /// Calls `fn(strategy)`, recording `hook` as the running hook (`log` in `training_step` is
  /// checked against "training_step" whether the module or the strategy is called).
  template <typename Fn>
  decltype(auto) call_strategy(const char* hook, Fn&& fn);
  /// Times `action` (a name that lives as long as the program, e.g. "run_training_epoch") until
  /// the returned scope ends; inert, at the cost of one branch, when nothing is profiled.
  inline detail::ProfilerScope profile(const char* action);
  /// Times a hook of `owner` (a Callback, the module, the datamodule or the strategy) under
  /// Lightning's action name, e.g. "[Callback]ModelCheckpoint{...}.on_train_epoch_end".
  inline detail::ProfilerScope profile_hook(detail::HookOwner kind, const void* owner, const char* hook);
  /// The current evaluation dataloader index (for `add_dataloader_idx`), or -1.
  int64_t eval_dataloader_idx = -1;
  /// Number of evaluation dataloaders of the running loop.
  int64_t num_eval_dataloaders = 0;
  /// Size of the running batch (weights epoch means of `log`).
  int64_t current_batch_size = 0;
  /// Set when a sanity check / validation / test finished its run (used by the loops).
  void set_stage(std::optional<RunningStage> stage) { state_.stage = stage; }
  /// The entry point runs the fit loop: `fit`, or `tune`, whose trials train (what the loops and
  /// callbacks mean by "fitting").
  bool runs_fit_loop() const { return state_.fn == TrainerFn::Fitting || state_.fn == TrainerFn::Tuning; }

 private:
  struct RunArgs;
  /// Through the strategy's launcher, when it has one (it starts the other processes first).
  void run(TrainerFn fn, RunArgs args);
  void run_here(TrainerFn fn, RunArgs& args);
  /// `ddp_spawn`: what rank 0 sends back to the caller, and the caller's restoring of it.
  Dict spawn_results() const;
  void restore_spawn_results(TrainerFn fn, const RunArgs& args, const Dict& results);
  /// Prints an error raised while cleaning up after another one (which it must not replace).
  static void report_cleanup_error(const std::string& during, const std::exception_ptr& error);
  void run_stage();
  void attach_data(const RunArgs& args);
  DataLoaders requested_dataloaders(RunningStage stage);
  void setup_callbacks();
  void setup_optimizers();
  std::optional<std::string> resolve_ckpt_path(const std::optional<std::string>& ckpt_path) const;
  void restore_modules_and_callbacks(const Dict& checkpoint, const std::string& path);
  void restore_training_state(const Dict& checkpoint, const std::string& path);
  void save_hpc_checkpoint();
  void teardown();
  void on_exception(const std::exception_ptr& e);
  void verify_manual_optimization_support() const;
  /// Every folder a fit may save checkpoints in is writable (or can be created).
  void check_checkpoint_folders() const;
  /// Under several processes: the flags that decide the loops (and the module's size) are rank
  /// 0's on every rank, or every rank throws MisconfigurationException naming the difference.
  void verify_same_flags_on_every_rank();

  /// The profiler's name of an action: cached, since hooks are called every step.
  const std::string& profiled_action(detail::HookOwner kind, const void* owner, const char* hook);
  const std::string& profiled_action(const char* action);
  /// Gives the profiler the run's stage, rank and log folder (Lightning's `__setup_profiler`).
  void setup_profiler();

  // --- tune (src/tuner/) ---------------------------------------------------------------------
  friend struct tuner::detail::TrainerAccess;
  /// Both `tune` overloads (src/tuner/tuner.cpp).
  tuner::TuneResult run_tune(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                             DataLoaders train, DataLoaders val, tuner::BatchSizeScalerOptions scale_batch_size_kwargs,
                             tuner::LRFinderOptions lr_find_kwargs);
  /// `run` under TrainerFn::Tuning (trainer.cpp, where RunArgs is defined).
  void run_tuning_entry(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                        DataLoaders train, DataLoaders val);
  /// run_stage's Tuning case: the procedures the tuner flags ask for (src/tuner/tuner.cpp).
  void run_tuning();
  std::vector<LRSchedulerConfig>& scheduler_configs() { return model_->lr_scheduler_configs_; }

  std::unique_ptr<detail::ResolvedOptions> options_;
  std::shared_ptr<profilers::Profiler> profiler_;
  /// False for the PassThroughProfiler: the hooks then skip naming their actions.
  bool profiling_ = false;
  std::map<std::tuple<int, const void*, const char*>, std::string> profiled_actions_;
  std::shared_ptr<strategies::Strategy> strategy_;
  std::vector<int64_t> device_ids_;
  int64_t num_nodes_ = 1;
  std::optional<std::string> ckpt_path_;
  /// Created once, so `best_model_path` outlives the fit (for `test(ckpt_path="best")`).
  std::shared_ptr<ModelCheckpoint> default_checkpoint_;
  TrainerState state_;
  std::vector<std::shared_ptr<Callback>> user_callbacks_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::vector<std::shared_ptr<Logger>> loggers_;
  std::shared_ptr<LightningModule> model_;
  std::shared_ptr<LightningDataModule> datamodule_;
  const char* current_fx_ = "";

  std::unique_ptr<LoggerConnector> logger_connector_;
  std::unique_ptr<FitLoop> fit_loop_;
  std::unique_ptr<EvaluationLoop> validate_loop_;
  std::unique_ptr<EvaluationLoop> test_loop_;
  std::unique_ptr<PredictionLoop> predict_loop_;
  /// The loop whose results `log` writes to.
  ResultCollection* active_results_ = nullptr;

  DataLoaders given_train_, given_val_, given_test_, given_predict_;
  std::vector<std::map<std::string, double>> eval_results_;
  std::vector<std::vector<torch::IValue>> predictions_;
  bool return_predictions_ = true;

  /// Lightning 1.x's `auto_lr_find` / `auto_scale_batch_size` flags, cleared once `tune` ran them.
  TunerFlag auto_lr_find_ = false;
  TunerFlag auto_scale_batch_size_ = false;
  tuner::BatchSizeScalerOptions tune_scale_batch_size_kwargs_;
  tuner::LRFinderOptions tune_lr_find_kwargs_;
  tuner::TuneResult tune_result_;
};

// --- hook dispatch (inline: on the hot path) --------------------------------------------

namespace detail {
/// Restores the running hook's name on scope exit (hooks nest: training_step inside a closure).
struct FxScope {
  const char*& slot;
  const char* saved;
  FxScope(const char*& s, const char* hook) : slot(s), saved(s) { slot = hook; }
  ~FxScope() { slot = saved; }
};

/// Starts a profiler action and stops it when the scope ends; inert when default-constructed.
class ProfilerScope {
 public:
  ProfilerScope() = default;
  ProfilerScope(profilers::Profiler* profiler, const std::string* action);
  ~ProfilerScope() {
    if (profiler_) stop();
  }
  ProfilerScope(const ProfilerScope&) = delete;
  ProfilerScope& operator=(const ProfilerScope&) = delete;

 private:
  void stop() noexcept;
  profilers::Profiler* profiler_ = nullptr;
  const std::string* action_ = nullptr;
};
}  // namespace detail

detail::ProfilerScope Trainer::profile(const char* action) {
  if (!profiling_) return {};
  return {profiler_.get(), &profiled_action(action)};
}

detail::ProfilerScope Trainer::profile_hook(detail::HookOwner kind, const void* owner, const char* hook) {
  if (!profiling_) return {};
  return {profiler_.get(), &profiled_action(kind, owner, hook)};
}

template <typename Fn, typename Filter>
void Trainer::call_callbacks(const char* hook, Fn&& fn, Filter&& only) {
  if (callbacks_.empty()) return;
  detail::FxScope scope(current_fx_, hook);
  for (auto& cb : callbacks_) {
    if (!only(*cb)) continue;
    auto timed = profile_hook(detail::HookOwner::Callback, cb.get(), hook);
    fn(*cb);
  }
}

template <typename Fn>
decltype(auto) Trainer::call_module(const char* hook, Fn&& fn) {
  detail::FxScope scope(current_fx_, hook);
  auto timed = profile_hook(detail::HookOwner::LightningModule, model_.get(), hook);
  return fn(*model_);
}

template <typename CallbackFn, typename ModuleFn>
void Trainer::call_hooks(const char* hook, CallbackFn&& cb, ModuleFn&& module) {
  call_callbacks(hook, std::forward<CallbackFn>(cb));
  call_module(hook, std::forward<ModuleFn>(module));
}

template <typename Fn>
decltype(auto) Trainer::call_strategy(const char* hook, Fn&& fn) {
  detail::FxScope scope(current_fx_, hook);
  auto timed = profile_hook(detail::HookOwner::Strategy, strategy_.get(), hook);
  return fn(*strategy_);
}

}  // namespace lightning
