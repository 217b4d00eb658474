#include "lightning/trainer/trainer.h"

#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/on_exception_checkpoint.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/timer.h"
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/loggers/logger.h"
#include "lightning/loggers/tensorboard.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/logging/result_collection.h"
#include "lightning/loops/evaluation_loop.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/loops/prediction_loop.h"
#include "lightning/plugins/checkpoint_io.h"
#include "lightning/precision/precision.h"
#include "lightning/profilers/advanced.h"
#include "lightning/profilers/simple.h"
#include "lightning/strategies/launcher.h"
#include "lightning/strategies/strategy.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "trainer/accelerator_connector.h"
#include "trainer/resolved_options.h"
#include "trainer/signals.h"
#include "tuner/exit.h"
#include "tuner/memory.h"
#include "utilities/fs.h"
#include "utilities/type_name.h"

#include <ATen/Context.h>
#include <torch/csrc/autograd/anomaly_mode.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace lightning {

namespace {

/// A flag that turns a feature off contradicts a callback of that feature in `callbacks`.
template <typename FeatureCallback>
void reject_when_disabled(bool enabled, const std::vector<std::shared_ptr<Callback>>& callbacks,
                          const char* message) {
  if (enabled) return;
  for (const auto& cb : callbacks)
    if (dynamic_cast<FeatureCallback*>(cb.get())) throw MisconfigurationException(message);
}

/// Lightning's `_init_profiler`: a name, an object, or nothing (the PassThroughProfiler).
std::shared_ptr<profilers::Profiler> make_profiler(const std::optional<ProfilerInput>& given) {
  if (!given) return std::make_shared<profilers::PassThroughProfiler>();
  if (given->object) return given->object;
  std::string name;
  for (char c : given->name) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "simple") return std::make_shared<profilers::SimpleProfiler>();
  if (name == "advanced" || name == "pytorch") return std::make_shared<profilers::AdvancedProfiler>();
  if (name == "passthrough") return std::make_shared<profilers::PassThroughProfiler>();
  throw MisconfigurationException(fmt::format(
      "profiler='{}' is invalid; accepted: 'simple', 'advanced', 'pytorch' (LibTorch's profiler, as 'advanced'), "
      "'passthrough', or a Profiler object",
      given->name));
}

/// The `stage` that setup/teardown receive: tune's trials train, so it sets up as "fit"
/// (Lightning 1.x's `TrainerFn._setup_fn`).
std::string setup_stage(TrainerFn fn) { return to_string(fn == TrainerFn::Tuning ? TrainerFn::Fitting : fn); }

/// An out-of-memory error (CUDA's or the CPU's) is explained on the rank it hit: which stage,
/// which batch size, and the finder that picks one that fits. The error itself propagates
/// unchanged. Not while tuning: the batch-size scaler runs out of memory on purpose.
void report_out_of_memory(const Trainer& trainer, const std::exception_ptr& error) {
  if (trainer.state().fn == TrainerFn::Tuning) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    if (!tuner::detail::is_oom_error(e)) return;
  } catch (...) {
    return;
  }
  const auto stage = trainer.state().stage;
  std::vector<DataLoader> loaders;
  const char* kind = "";
  if (stage == RunningStage::Training && trainer.train_dataloader()) {
    loaders.push_back(*trainer.train_dataloader());
    kind = "train";
  } else if (stage == RunningStage::Validating || stage == RunningStage::SanityChecking) {
    loaders = trainer.val_dataloaders();
    kind = "val";
  } else if (stage == RunningStage::Testing) {
    loaders = trainer.test_dataloaders();
    kind = "test";
  } else if (stage == RunningStage::Predicting) {
    loaders = trainer.predict_dataloaders();
    kind = "predict";
  }
  std::vector<int64_t> sizes;
  for (const auto& loader : loaders)
    if (std::find(sizes.begin(), sizes.end(), loader.options().batch_size) == sizes.end())
      sizes.push_back(loader.options().batch_size);
  const std::string where =
      stage ? fmt::format(" while running `{}`", to_string(*stage)) : std::string(" before the first batch");
  const std::string batch =
      sizes.empty() ? std::string()
                    : fmt::format(" with batch_size={} (the {} dataloader's)", fmt::join(sizes, " and "), kind);
  std::cerr << fmt::format("Out of memory{}{} on global rank {}. A smaller batch may fit: lower the batch size, or let "
                           "the batch-size finder find the largest that fits (Tuner(trainer).scale_batch_size(model), "
                           "or the BatchSizeFinder callback; docs/tuner.md).",
                           where, batch, trainer.global_rank())
            << std::endl;
}

}  // namespace

struct Trainer::RunArgs {
  std::shared_ptr<LightningModule> model;
  std::shared_ptr<LightningDataModule> datamodule;
  DataLoaders train, val, test, predict;
  std::optional<std::string> ckpt_path;
};

Trainer::Trainer(TrainerOptions options)
    : options_(std::make_unique<detail::ResolvedOptions>(detail::resolve(options))),
      profiler_(make_profiler(options.profiler)),
      profiling_(dynamic_cast<profilers::PassThroughProfiler*>(profiler_.get()) == nullptr),
      user_callbacks_(std::move(options.callbacks)),
      auto_lr_find_(options.auto_lr_find),
      auto_scale_batch_size_(options.auto_scale_batch_size) {
  for (size_t i = 0; i < user_callbacks_.size(); ++i)
    if (!user_callbacks_[i])
      throw MisconfigurationException(fmt::format("callbacks[{}] is null; accepted: non-null callbacks", i));
  reject_when_disabled<TQDMProgressBar>(
      options_->enable_progress_bar, user_callbacks_,
      "Trainer was configured with enable_progress_bar=false but a TQDMProgressBar is in callbacks; "
      "accepted: enable_progress_bar=true with a progress bar callback, or no progress bar callback");
  for (size_t i = 0; i < options.logger.loggers.size(); ++i)
    if (!options.logger.loggers[i])
      throw MisconfigurationException(fmt::format("logger[{}] is null; accepted: non-null loggers", i));
  auto connected = detail::connect_strategy(options, options_->precision);
  strategy_ = std::move(connected.strategy);
  device_ids_ = std::move(connected.device_ids);
  num_nodes_ = connected.num_nodes;
  reject_when_disabled<ModelCheckpoint>(
      options_->enable_checkpointing, user_callbacks_,
      "Trainer was configured with enable_checkpointing=false but found ModelCheckpoint in callbacks; "
      "accepted: enable_checkpointing=true with a ModelCheckpoint callback, or no ModelCheckpoint callback");
  // `logger=true` selects Lightning's default: TensorBoardLogger(default_root_dir, "lightning_logs").
  if (options_->logger_enabled) {
    loggers_ = options.logger.loggers;
    if (loggers_.empty()) loggers_.push_back(std::make_shared<loggers::TensorBoardLogger>(options_->default_root_dir));
    // Lightning's debugging flags: the loggers are swapped for one that writes nothing.
    if (options_->fast_dev_run > 0) loggers_ = {std::make_shared<DummyLogger>()};
  }
  // Lightning's `_set_torch_flags`: deterministic implies benchmark=false unless given.
  const auto deterministic = options.deterministic ? std::optional(options.deterministic->value) : std::nullopt;
  if (deterministic) {
    at::globalContext().setDeterministicAlgorithms(*deterministic != "false", *deterministic == "warn");
    if (*deterministic != "false") ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 1);
  }
  const auto benchmark = options.benchmark ? options.benchmark
                                           : (deterministic && *deterministic != "false" ? std::optional(false)
                                                                                         : std::nullopt);
  if (benchmark) at::globalContext().setBenchmarkCuDNN(*benchmark);
  if (deterministic && *deterministic != "false" && options.benchmark.value_or(false))
    rank_zero_info("You passed `deterministic=True` and `benchmark=True`. Note that PyTorch ignores "
                   "torch.backends.cudnn.deterministic=True when torch.backends.cudnn.benchmark=True.");
  logger_connector_ = std::make_unique<LoggerConnector>(*this);
  fit_loop_ = std::make_unique<FitLoop>(*this);
  validate_loop_ = std::make_unique<EvaluationLoop>(*this, RunningStage::Validating);
  test_loop_ = std::make_unique<EvaluationLoop>(*this, RunningStage::Testing);
  predict_loop_ = std::make_unique<PredictionLoop>(*this);
}

Trainer::~Trainer() {
  if (model_ && model_->trainer_ == this) model_->trainer_ = nullptr;
}

// --- entry points ---------------------------------------------------------------------------

void Trainer::fit(std::shared_ptr<LightningModule> model, std::optional<DataLoader> train_dataloader,
                  DataLoaders val_dataloaders, std::optional<std::string> ckpt_path) {
  RunArgs args{std::move(model), nullptr, {}, std::move(val_dataloaders), {}, {}, std::move(ckpt_path)};
  if (train_dataloader) args.train = DataLoaders(std::move(*train_dataloader));
  run(TrainerFn::Fitting, std::move(args));
}

void Trainer::fit(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                  std::optional<std::string> ckpt_path) {
  if (!datamodule) throw MisconfigurationException("fit: datamodule is null; accepted: a LightningDataModule");
  run(TrainerFn::Fitting, RunArgs{std::move(model), std::move(datamodule), {}, {}, {}, {}, std::move(ckpt_path)});
}

void Trainer::run_tuning_entry(std::shared_ptr<LightningModule> model, std::shared_ptr<LightningDataModule> datamodule,
                               DataLoaders train, DataLoaders val) {
  run(TrainerFn::Tuning,
      RunArgs{std::move(model), std::move(datamodule), std::move(train), std::move(val), {}, {}, std::nullopt});
}

namespace {

void print_results_table(const std::string& stage, const std::vector<std::map<std::string, double>>& results) {
  if (results.empty()) return;
  std::vector<std::string> keys;
  for (const auto& r : results)
    for (const auto& [k, v] : r)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  const std::string title = stage == "test" ? "Test metric" : "Validate metric";
  size_t first = title.size();
  for (const auto& k : keys) first = std::max(first, k.size());
  first += 4;
  const size_t col = 24;
  const size_t width = first + col * results.size();
  std::string rule;
  for (size_t i = 0; i < width; ++i) rule += "\u2500";
  std::string out = rule + "\n" + fmt::format("{:^{}}", title, first);
  for (size_t i = 0; i < results.size(); ++i) out += fmt::format("{:^{}}", fmt::format("DataLoader {}", i), col);
  out += "\n" + rule + "\n";
  for (const auto& k : keys) {
    out += fmt::format("{:^{}}", k, first);
    for (const auto& r : results) {
      auto it = r.find(k);
      out += fmt::format("{:^{}}", it == r.end() ? std::string() : fmt::format("{}", it->second), col);
    }
    out += "\n";
  }
  out += rule;
  std::cout << out << std::endl;
}

}  // namespace

std::vector<std::map<std::string, double>> Trainer::validate(std::shared_ptr<LightningModule> model,
                                                             DataLoaders dataloaders,
                                                             std::optional<std::string> ckpt_path, bool verbose) {
  run(TrainerFn::Validating,
      RunArgs{std::move(model), nullptr, {}, std::move(dataloaders), {}, {}, std::move(ckpt_path)});
  if (verbose && is_global_zero()) print_results_table("validate", eval_results_);
  return eval_results_;
}

std::vector<std::map<std::string, double>> Trainer::validate(std::shared_ptr<LightningModule> model,
                                                             std::shared_ptr<LightningDataModule> datamodule,
                                                             std::optional<std::string> ckpt_path, bool verbose) {
  if (!datamodule) throw MisconfigurationException("validate: datamodule is null; accepted: a LightningDataModule");
  run(TrainerFn::Validating, RunArgs{std::move(model), std::move(datamodule), {}, {}, {}, {}, std::move(ckpt_path)});
  if (verbose && is_global_zero()) print_results_table("validate", eval_results_);
  return eval_results_;
}

std::vector<std::map<std::string, double>> Trainer::test(std::shared_ptr<LightningModule> model,
                                                         DataLoaders dataloaders, std::optional<std::string> ckpt_path,
                                                         bool verbose) {
  run(TrainerFn::Testing, RunArgs{std::move(model), nullptr, {}, {}, std::move(dataloaders), {}, std::move(ckpt_path)});
  if (verbose && is_global_zero()) print_results_table("test", eval_results_);
  return eval_results_;
}

std::vector<std::map<std::string, double>> Trainer::test(std::shared_ptr<LightningModule> model,
                                                         std::shared_ptr<LightningDataModule> datamodule,
                                                         std::optional<std::string> ckpt_path, bool verbose) {
  if (!datamodule) throw MisconfigurationException("test: datamodule is null; accepted: a LightningDataModule");
  run(TrainerFn::Testing, RunArgs{std::move(model), std::move(datamodule), {}, {}, {}, {}, std::move(ckpt_path)});
  if (verbose && is_global_zero()) print_results_table("test", eval_results_);
  return eval_results_;
}

std::vector<std::vector<torch::IValue>> Trainer::predict(std::shared_ptr<LightningModule> model,
                                                         DataLoaders dataloaders, bool return_predictions,
                                                         std::optional<std::string> ckpt_path) {
  return_predictions_ = return_predictions;
  run(TrainerFn::Predicting,
      RunArgs{std::move(model), nullptr, {}, {}, {}, std::move(dataloaders), std::move(ckpt_path)});
  return std::move(predictions_);
}

std::vector<std::vector<torch::IValue>> Trainer::predict(std::shared_ptr<LightningModule> model,
                                                         std::shared_ptr<LightningDataModule> datamodule,
                                                         bool return_predictions, std::optional<std::string> ckpt_path) {
  if (!datamodule) throw MisconfigurationException("predict: datamodule is null; accepted: a LightningDataModule");
  return_predictions_ = return_predictions;
  run(TrainerFn::Predicting, RunArgs{std::move(model), std::move(datamodule), {}, {}, {}, {}, std::move(ckpt_path)});
  return std::move(predictions_);
}

// --- one run ----------------------------------------------------------------------------------

void Trainer::attach_data(const RunArgs& args) {
  datamodule_ = args.datamodule;
  given_train_ = args.train;
  given_val_ = args.val;
  given_test_ = args.test;
  given_predict_ = args.predict;
  // Lightning's `attach_dataloaders`: every loop requests its loaders anew in this run.
  fit_loop_->reset_data();
  fit_loop_->epoch_loop.val_loop.reset_data();
  validate_loop_->reset_data();
  test_loop_->reset_data();
  predict_loop_->reset_data();
}

void Trainer::run(TrainerFn fn, RunArgs args) {
  auto* launcher = strategy_->launcher();
  if (!launcher) return run_here(fn, args);
  std::optional<Dict> results;
  try {
    const bool send_back = launcher->returns_results();
    results = launcher->launch([&] {
      run_here(fn, args);
      return send_back ? spawn_results() : new_dict();
    });
  } catch (...) {
    launcher->kill(SIGKILL);  // the others would wait for this process until the timeout
    throw;
  }
  if (results) restore_spawn_results(fn, args, *results);
}

Dict Trainer::spawn_results() const {
  // Lightning's `_collect_rank_zero_results`: what `ddp_spawn`'s caller gets back.
  auto out = new_dict();
  const auto* checkpoint = checkpoint_callback();
  out.insert("best_model_path", checkpoint ? checkpoint->best_model_path : std::string());
  out.insert("state_dict", module_state_dict(*model_));
  auto metrics = new_dict();
  for (const auto& [key, value] : logger_connector_->callback_metrics()) metrics.insert(key, value);
  out.insert("callback_metrics", metrics);
  auto results = new_list();
  for (const auto& per_loader : eval_results_) {
    auto d = new_dict();
    for (const auto& [key, value] : per_loader) d.insert(key, value);
    results.push_back(d);
  }
  out.insert("eval_results", results);
  return out;
}

void Trainer::restore_spawn_results(TrainerFn fn, const RunArgs& args, const Dict& results) {
  // Lightning's `_recover_results_in_main_process`: the weights, the best checkpoint's path, the
  // metrics and the state of the run that rank 0 made.
  if (args.model) {
    if (model_ && model_ != args.model && model_->trainer_ == this) model_->trainer_ = nullptr;
    model_ = args.model;
  }
  if (!model_) return;
  model_->trainer_ = this;
  load_module_state_dict(*model_, results.at("state_dict").toGenericDict(), /*strict=*/true, "ddp_spawn's rank 0");
  setup_callbacks();
  if (auto* checkpoint = checkpoint_callback()) checkpoint->best_model_path = results.at("best_model_path").toStringRef();
  auto& metrics = logger_connector_->callback_metrics();
  metrics.clear();
  for (const auto& entry : results.at("callback_metrics").toGenericDict())
    metrics.insert_or_assign(entry.key().toStringRef(), entry.value().toTensor());
  eval_results_.clear();
  for (const auto& per_loader : results.at("eval_results").toList()) {
    auto& row = eval_results_.emplace_back();
    for (const auto& entry : per_loader.get().toGenericDict()) row[entry.key().toStringRef()] = entry.value().toDouble();
  }
  state_ = TrainerState{fn, TrainerStatus::Finished, std::nullopt};
}

void Trainer::run_here(TrainerFn fn, RunArgs& args) {
  const bool model_provided = args.model != nullptr;
  if (!model_provided) {
    // Lightning: validate/test/predict without a model run the model of the previous call,
    // with the best checkpoint of its fit unless told otherwise.
    if (fn == TrainerFn::Fitting || !model_)
      throw MisconfigurationException(fmt::format(
          "`Trainer.{}()` requires a `LightningModule` when it hasn't been passed in a previous run; accepted: a "
          "LightningModule{}",
          to_string(fn), fn == TrainerFn::Fitting ? "" : ", or none after a fit/validate/test/predict call"));
    args.model = model_;
    if (!args.ckpt_path) {
      args.ckpt_path = "best";
      rank_zero_info(fmt::format(
          "`.{0}(ckpt_path=None)` was called without a model. The best model of the previous `fit` call "
          "will be used. You can pass `.{0}(ckpt_path='best')` to use the best model or "
          "`.{0}(ckpt_path='last')` to use the last model. If you pass a value, this warning will be "
          "silenced.",
          to_string(fn)));
    }
  }
  if (model_ && model_ != args.model && model_->trainer_ == this) model_->trainer_ = nullptr;
  model_ = std::move(args.model);
  model_->trainer_ = this;
  strategy_->connect(*model_);
  attach_data(args);
  // Lightning reports the entry point's stage from the first hook on (setup, configure_optimizers, ...).
  state_ = TrainerState{fn, TrainerStatus::Running, stage_of(fn)};
  if (runs_fit_loop()) should_stop = false;
  eval_results_.clear();
  predictions_.clear();
  logger_connector_->reset_metrics();
  const std::string stage = setup_stage(fn);

  detail::SignalGuard signals(runs_fit_loop());
  std::optional<torch::autograd::DetectAnomalyGuard> anomaly;
  if (options_->detect_anomaly) anomaly.emplace();
  try {
    setup_callbacks();
    auto& module = *model_;
    if (datamodule_) {
      auto timed = profile_hook(detail::HookOwner::LightningDataModule, datamodule_.get(), "prepare_data");
      datamodule_->prepare_data();
    }
    call_module("prepare_data", [](LightningModule& m) { m.prepare_data(); });
    strategy_->setup_environment();
    setup_profiler();
    if (world_size() > 1) verify_same_flags_on_every_rank();
    if (datamodule_) datamodule_->setup(stage);
    call_hooks(
        "setup", [&](Callback& c) { c.setup(*this, module, stage); }, [&](LightningModule& m) { m.setup(stage); });
    call_module("configure_model", [](LightningModule& m) { m.configure_model(); });
    // Lightning's order: weights and callback states first, training state once the
    // optimizers exist and on_fit_start ran.
    ckpt_path_ = resolve_ckpt_path(args.ckpt_path);
    std::optional<Dict> checkpoint;
    if (ckpt_path_) {
      rank_zero_info(fmt::format("Restoring states from the checkpoint path at {}", *ckpt_path_));
      checkpoint = strategy_->load_checkpoint(*ckpt_path_);
      restore_modules_and_callbacks(*checkpoint, *ckpt_path_);
    }
    strategy_->setup(*this);  // the module converted and on its device
    if (runs_fit_loop()) setup_optimizers();
    if (fn == TrainerFn::Fitting)
      call_hooks(
          "on_fit_start", [&](Callback& c) { c.on_fit_start(*this, module); },
          [](LightningModule& m) { m.on_fit_start(); });
    // Lightning's _log_hyperparams, in every stage: hyperparameters only after
    // save_hyperparameters, the graph, and save(), which creates the run's folder.
    // Loggers write from global rank 0 only (Lightning's `rank_zero_only` logger methods); tuning
    // logs nothing (Lightning's tuner swaps the loggers for a DummyLogger).
    const bool log_run = is_global_zero() && fn != TrainerFn::Tuning;
    for (const auto& logger : log_run ? loggers_ : std::vector<std::shared_ptr<Logger>>{}) {
      if (!model_->hparams().empty()) logger->log_hyperparams(model_->hparams());
      logger->log_graph(*model_);
      logger->save();
    }
    if (fn == TrainerFn::Fitting && checkpoint) restore_training_state(*checkpoint, *ckpt_path_);
    if (fn == TrainerFn::Fitting) check_checkpoint_folders();
    checkpoint.reset();  // free its tensors before the run
    run_stage();
    if (fn == TrainerFn::Fitting)
      call_hooks(
          "on_fit_end", [&](Callback& c) { c.on_fit_end(*this, module); }, [](LightningModule& m) { m.on_fit_end(); });
    teardown();
    state_.status = TrainerStatus::Finished;
    state_.stage.reset();
  } catch (const detail::TunerExit&) {
    // A Tuner's finder callback is done: the fit ends here, finished (Lightning's _TunerExitException).
    teardown();
    state_.status = TrainerStatus::Finished;
    state_.stage.reset();
  } catch (const detail::Interrupted&) {
    on_exception(std::make_exception_ptr(std::runtime_error("KeyboardInterrupt")));
  } catch (const detail::Terminated&) {
    // Preemption: keep what is needed to resume, close everything, and exit with 143, whatever
    // fails on the way (a full disk must not skip the on_exception callbacks or the status).
    if (fn == TrainerFn::Fitting) {
      try {
        save_hpc_checkpoint();
      } catch (...) {
        report_cleanup_error("saving the HPC checkpoint after SIGTERM", std::current_exception());
      }
    }
    on_exception(std::make_exception_ptr(std::runtime_error("SIGTERM")));
    std::exit(detail::kSigtermExitCode);
  } catch (...) {
    report_out_of_memory(*this, std::current_exception());
    on_exception(std::current_exception());
    throw;
  }
}

void Trainer::verify_same_flags_on_every_rank() {
  // What decides how many batches, steps and collectives each rank runs: a rank that differs
  // would wait in a collective the others never enter.
  const auto& o = *options_;
  int64_t parameters = 0;
  for (const auto& p : model_->parameters()) parameters += p.numel();
  const std::vector<std::pair<std::string, std::string>> flags{
      {"entry point", to_string(*state_.fn)},
      {"max_epochs", std::to_string(o.max_epochs)},
      {"min_epochs", std::to_string(o.min_epochs)},
      {"max_steps", std::to_string(o.max_steps)},
      {"min_steps", o.min_steps ? std::to_string(*o.min_steps) : "None"},
      {"limit_train_batches", o.limit_train_batches.str()},
      {"limit_val_batches", o.limit_val_batches.str()},
      {"limit_test_batches", o.limit_test_batches.str()},
      {"limit_predict_batches", o.limit_predict_batches.str()},
      {"val_check_interval", o.val_check_interval.str()},
      {"check_val_every_n_epoch", o.check_val_every_n_epoch ? std::to_string(*o.check_val_every_n_epoch) : "None"},
      {"num_sanity_val_steps", std::to_string(o.num_sanity_val_steps)},
      {"accumulate_grad_batches", std::to_string(o.accumulate_grad_batches)},
      {"precision", o.precision},
      {"the module's parameter count", std::to_string(parameters)}};
  std::string mine;
  for (const auto& [name, value] : flags) mine += name + "=" + value + "\n";
  const auto rank0 = strategy_->broadcast(mine).toStringRef();
  if (strategy_->reduce_boolean_decision(mine == rank0)) return;
  if (mine == rank0)
    throw MisconfigurationException(fmt::format(
        "Another rank was started with different Trainer flags than rank 0{} (its own error names them); accepted: "
        "the same flags and module on every rank",
        global_rank() == 0 ? "" : fmt::format(", which rank {} shares", global_rank())));
  std::vector<std::string> differences;
  std::istringstream theirs(rank0);
  std::string line;
  for (const auto& [name, value] : flags) {
    std::getline(theirs, line);
    if (line != name + "=" + value) differences.push_back(fmt::format("{}={} where rank 0 has {}", name, value, line));
  }
  throw MisconfigurationException(
      fmt::format("Rank {} was started with different Trainer flags than rank 0: {}; accepted: the same flags and "
                  "module on every rank (start every process with the same arguments)",
                  global_rank(), fmt::join(differences, ", ")));
}

void Trainer::check_checkpoint_folders() const {
  // Found now, not at the first save an epoch later (the loggers check theirs when they start).
  if (options_->fast_dev_run > 0) return;
  for (const auto* mc : checkpoint_callbacks())
    if (auto dir = mc->dirpath()) detail::check_writable_folder(*dir, "ModelCheckpoint", "checkpoint folder", "dirpath");
  for (const auto& cb : callbacks_)
    if (auto* oe = dynamic_cast<const OnExceptionCheckpoint*>(cb.get()))
      detail::check_writable_folder(detail::parent_dir(oe->ckpt_path()), "OnExceptionCheckpoint", "checkpoint folder",
                                    "dirpath");
  detail::check_writable_folder(options_->default_root_dir, "Trainer", "folder of HPC checkpoints (SIGTERM)",
                                "default_root_dir");
}

void Trainer::setup_optimizers() {
  if (!model_->automatic_optimization) verify_manual_optimization_support();
  auto config = call_module("configure_optimizers", [](LightningModule& m) { return m.configure_optimizers(); });
  detail::validate_optimizer_config(config, model_->automatic_optimization);
  model_->optimizers_.clear();
  for (auto& optimizer : config.optimizers) {
    model_->optimizers_.emplace_back(std::move(optimizer), model_.get());
    model_->optimizers_.back().connect(strategy_.get(), &fit_loop_->epoch_loop.optimization);
  }
  model_->lr_scheduler_configs_ = std::move(config.lr_schedulers);
}

void Trainer::verify_manual_optimization_support() const {
  // Lightning's configuration validator: these flags act on the automatic step only.
  if (options_->gradient_clip_val.value_or(0.0) > 0)
    throw MisconfigurationException(fmt::format(
        "Automatic gradient clipping is not supported for manual optimization; accepted: remove "
        "`gradient_clip_val={}` from the Trainer (call `clip_gradients` in training_step) or switch to automatic "
        "optimization",
        *options_->gradient_clip_val));
  if (options_->accumulate_grad_batches != 1 || !options_->accumulate_grad_batches_schedule.empty())
    throw MisconfigurationException(fmt::format(
        "Automatic gradient accumulation is not supported for manual optimization; accepted: remove "
        "`accumulate_grad_batches={}` from the Trainer (accumulate in training_step) or switch to automatic "
        "optimization",
        options_->accumulate_grad_batches));
}

void Trainer::on_exception(const std::exception_ptr& e) {
  // Lightning's `_interrupt`: mark the run, tell the callbacks, close the loggers.
  state_.status = TrainerStatus::Interrupted;
  state_.stage.reset();
  active_results_ = nullptr;
  // Errors raised while cleaning up are reported, never raised: the original exception (or the
  // SIGTERM exit status) is what the caller must see.
  try {
    strategy_->on_exception(e);
  } catch (...) {
    report_cleanup_error("the strategy's on_exception", std::current_exception());
  }
  for (const auto& cb : callbacks_) {
    try {
      cb->on_exception(*this, *model_, e);
    } catch (...) {
      report_cleanup_error(fmt::format("{}.on_exception", cb->state_key()), std::current_exception());
    }
  }
  for (const auto& logger : is_global_zero() ? loggers_ : std::vector<std::shared_ptr<Logger>>{}) {
    try {
      logger->finalize("failed");
    } catch (...) {
      report_cleanup_error(fmt::format("logger '{}'.finalize(\"failed\")", logger->name()), std::current_exception());
    }
  }
  try {
    strategy_->teardown();
  } catch (...) {
    report_cleanup_error("the strategy's teardown", std::current_exception());
  }
}

void Trainer::report_cleanup_error(const std::string& during, const std::exception_ptr& error) {
  std::string what = "an unknown error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::cerr << fmt::format("Error in {} while handling an earlier failure (reported, not raised): {}", during, what)
            << std::endl;
}

void Trainer::teardown() {
  auto& module = *model_;
  const std::string stage = setup_stage(*state_.fn);
  active_results_ = nullptr;
  if (datamodule_) {
    auto timed = profile_hook(detail::HookOwner::LightningDataModule, datamodule_.get(), "teardown");
    datamodule_->teardown(stage);
  }
  call_hooks(
      "teardown", [&](Callback& c) { c.teardown(*this, module, stage); },
      [&](LightningModule& m) { m.teardown(stage); });
  if (is_global_zero())
    for (const auto& logger : loggers_) logger->finalize("success");
  strategy_->teardown();
  // Lightning's `_call_teardown_hook`: the stage's report, after a run that finished.
  profiler_->describe();
}

// --- profiling ------------------------------------------------------------------------------

void Trainer::setup_profiler() {
  profiler_->setup(to_string(*state_.fn), world_size() > 1 ? std::optional(local_rank()) : std::nullopt, log_dir());
}

const std::string& Trainer::profiled_action(detail::HookOwner kind, const void* owner, const char* hook) {
  auto [it, added] = profiled_actions_.try_emplace({static_cast<int>(kind), owner, hook});
  if (!added) return it->second;
  switch (kind) {
    case detail::HookOwner::Callback:
      it->second = fmt::format("[Callback]{}.{}", static_cast<const Callback*>(owner)->state_key(), hook);
      break;
    case detail::HookOwner::LightningModule:
      it->second = fmt::format("[LightningModule]{}.{}", detail::class_name(typeid(*model_)), hook);
      break;
    case detail::HookOwner::LightningDataModule:
      it->second = fmt::format("[LightningDataModule]{}.{}", detail::class_name(typeid(*datamodule_)), hook);
      break;
    case detail::HookOwner::Strategy:
      it->second = fmt::format("[Strategy]{}.{}", detail::class_name(typeid(*strategy_)), hook);
      break;
  }
  return it->second;
}

const std::string& Trainer::profiled_action(const char* action) {
  auto [it, added] = profiled_actions_.try_emplace({-1, nullptr, action});
  if (added) it->second = action;
  return it->second;
}

namespace detail {

ProfilerScope::ProfilerScope(profilers::Profiler* profiler, const std::string* action)
    : profiler_(profiler), action_(action) {
  profiler_->start(*action_);
}

void ProfilerScope::stop() noexcept {
  try {
    profiler_->stop(*action_);
  } catch (const std::exception& e) {
    std::cerr << fmt::format("Profiler: stopping '{}' failed: {}", *action_, e.what()) << std::endl;
  }
}

}  // namespace detail

void Trainer::run_stage() {
  for (auto& p : model_->parameters()) p.mutable_grad() = torch::Tensor();
  switch (*state_.fn) {
    case TrainerFn::Fitting:
      fit_loop_->run();
      break;
    case TrainerFn::Validating:
    case TrainerFn::Testing: {
      auto& loop = *state_.fn == TrainerFn::Testing ? *test_loop_ : *validate_loop_;
      loop.setup_data();
      loop.step_available = true;
      eval_results_ = loop.run();
      break;
    }
    case TrainerFn::Predicting:
      predict_loop_->setup_data();
      predictions_ = predict_loop_->run(return_predictions_);
      break;
    case TrainerFn::Tuning:
      run_tuning();
      break;
  }
}

// --- properties -----------------------------------------------------------------------------

int64_t Trainer::current_epoch() const { return fit_loop_->current_epoch(); }
int64_t Trainer::global_step() const { return fit_loop_->epoch_loop.global_step(); }
int64_t Trainer::batches_that_stepped() const { return fit_loop_->epoch_loop.batches_that_stepped; }
bool Trainer::validation_has_run() const { return fit_loop_->epoch_loop.val_loop.has_run; }
bool Trainer::is_last_batch() const { return fit_loop_->epoch_loop.batch_progress.is_last_batch; }
MetricMap Trainer::callback_metrics() { return logger_connector_->callback_metrics(); }
MetricMap Trainer::logged_metrics() { return logger_connector_->logged_metrics(); }
OrderedMap<double> Trainer::progress_bar_metrics() { return logger_connector_->progress_bar_metrics(); }
std::shared_ptr<Logger> Trainer::logger() const { return loggers_.empty() ? nullptr : loggers_.front(); }
std::string Trainer::default_root_dir() const { return options_->default_root_dir; }

std::optional<std::string> Trainer::log_dir() const {
  if (!loggers_.empty()) {
    if (auto dir = loggers_.front()->log_dir()) return dir;
    return loggers_.front()->save_dir();
  }
  return options_->default_root_dir;
}

int64_t Trainer::estimated_stepping_batches() const {
  const int64_t max_epochs = options_->max_epochs;
  const int64_t max_steps = options_->max_steps;
  if (max_epochs == -1) return max_steps == -1 ? detail::kUnbounded : max_steps;
  if (options_->limit_train_batches.is_zero()) return 0;
  // Lightning: the fit loop's data setup, done once (its run does not request the loader again).
  if (!fit_loop_->train_dataloader() && model_) fit_loop_->setup_data();
  const int64_t total = fit_loop_->num_training_batches();
  if (total == detail::kUnbounded) return max_steps;
  // A GradientAccumulationScheduler (the map form of the flag installs one) changes the factor
  // by epoch: count the schedule.
  const GradientAccumulationScheduler* scheduler = nullptr;
  for (const auto& cb : callbacks_)
    if (!scheduler) scheduler = dynamic_cast<const GradientAccumulationScheduler*>(cb.get());
  std::optional<GradientAccumulationScheduler> from_flag;
  if (!scheduler && !options_->accumulate_grad_batches_schedule.empty())
    scheduler = &from_flag.emplace(options_->accumulate_grad_batches_schedule);
  const int64_t epochs = std::max<int64_t>(max_epochs, 1);
  auto steps_per_epoch = [total](int64_t factor) { return (total + factor - 1) / factor; };
  int64_t estimate = 0;
  if (!scheduler) estimate = steps_per_epoch(accumulate_grad_batches()) * epochs;
  for (int64_t epoch = 0; scheduler && epoch < epochs; ++epoch)
    estimate += steps_per_epoch(scheduler->get_accumulate_grad_batches(epoch));
  return max_steps == -1 ? estimate : std::min(estimate, max_steps);
}

bool Trainer::received_sigterm() const { return detail::sigterm_received(); }

LightningModule& Trainer::lightning_module() const {
  if (!model_) throw MisconfigurationException("The Trainer has no LightningModule yet; call fit/validate/test/predict");
  return *model_;
}

void Trainer::set_active_results(ResultCollection* results) {
  active_results_ = results;
  if (results) results->set_strategy(strategy_.get());
}

plugins::Precision& Trainer::precision_plugin() const { return strategy_->precision_plugin(); }
plugins::CheckpointIO& Trainer::checkpoint_io() const { return strategy_->checkpoint_io(); }
accelerators::Accelerator& Trainer::accelerator() const { return *strategy_->accelerator(); }
torch::Device Trainer::device() const { return strategy_->root_device(); }
bool Trainer::is_global_zero() const { return strategy_->is_global_zero(); }
int64_t Trainer::global_rank() const { return strategy_->global_rank(); }
int64_t Trainer::local_rank() const { return strategy_->local_rank(); }
int64_t Trainer::node_rank() const { return strategy_->node_rank(); }
int64_t Trainer::world_size() const { return strategy_->world_size(); }

const std::vector<LRSchedulerConfig>& Trainer::lr_scheduler_configs() const {
  return lightning_module().lr_scheduler_configs_;
}

int64_t Trainer::fast_dev_run() const { return options_->fast_dev_run; }
int64_t Trainer::max_epochs() const { return options_->max_epochs; }
int64_t Trainer::min_epochs() const { return options_->min_epochs; }
int64_t Trainer::max_steps() const { return options_->max_steps; }
std::optional<int64_t> Trainer::min_steps() const { return options_->min_steps; }
int64_t Trainer::log_every_n_steps() const { return options_->log_every_n_steps; }
std::optional<int64_t> Trainer::check_val_every_n_epoch() const { return options_->check_val_every_n_epoch; }
int64_t Trainer::accumulate_grad_batches() const { return options_->accumulate_grad_batches; }
void Trainer::set_accumulate_grad_batches(int64_t factor) {
  if (factor < 1)
    throw MisconfigurationException(
        fmt::format("accumulate_grad_batches={} is invalid; accepted: an int >= 1", factor));
  options_->accumulate_grad_batches = factor;
}
const BatchLimit& Trainer::val_check_interval() const { return options_->val_check_interval; }
int64_t Trainer::val_check_batch() const { return fit_loop_->val_check_batch(); }

}  // namespace lightning
