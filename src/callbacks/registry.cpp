#include "lightning/callbacks/registry.h"

#include "lightning/callbacks/callbacks.h"
#include "lightning/trainer/options.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning {
namespace {

// Lightning's timedelta arguments: "DD:HH:MM:SS", a number of seconds, or {days, hours, minutes, seconds}.
std::optional<std::chrono::duration<double>> duration_arg(const cli::InitArgs& args, const std::string& owner,
                                                          const std::string& name) {
  const cli::Value& v = args[name];
  if (v.is_null()) return std::nullopt;
  auto fail = [&]() -> std::chrono::duration<double> {
    throw MisconfigurationException(
        fmt::format("{}({}={}) is invalid; accepted: \"DD:HH:MM:SS\", a number of seconds >= 0, or a mapping with keys "
                    "days/hours/minutes/seconds and values >= 0",
                    owner, name, v.str()));
  };
  if (v.is_int() || v.is_float()) return v.as_number() >= 0 ? std::chrono::duration<double>(v.as_number()) : fail();
  if (v.is_string()) {
    try {
      return MaxTime(v.as_string()).seconds();  // the max_time flag's one "DD:HH:MM:SS" rule
    } catch (const MisconfigurationException&) {
      return fail();
    }
  }
  if (!v.is_map()) return fail();
  double total = 0;
  for (const auto& [key, part] : v.as_map()) {
    double unit = key == "days" ? 86400 : key == "hours" ? 3600 : key == "minutes" ? 60 : key == "seconds" ? 1 : -1;
    if (unit < 0 || !(part.is_int() || part.is_float()) || part.as_number() < 0) return fail();
    total += unit * part.as_number();
  }
  return std::chrono::duration<double>(total);
}

}  // namespace

CallbackRegistry& CallbackRegistry::instance() {
  static CallbackRegistry registry;
  return registry;
}

CallbackRegistry::CallbackRegistry() : ClassRegistry("callback") {
  register_class(
      "ModelCheckpoint",
      [](cli::Arguments& a) {
        const ModelCheckpointOptions d;
        a.add("dirpath", d.dirpath, "Folder of the checkpoints (null: <log_dir>/checkpoints)");
        a.add("filename", d.filename, "File name template without .ckpt, e.g. '{epoch}-{val_loss:.2f}'");
        a.add("monitor", d.monitor, "Metric to rank checkpoints by (null: keep the latest)");
        a.add("verbose", d.verbose, "Print a line for every save");
        a.add("save_last", d.save_last, "Also keep last.ckpt");
        a.add("save_top_k", d.save_top_k, "How many best checkpoints to keep (-1: all, 0: none)");
        a.add("save_weights_only", d.save_weights_only, "Leave out optimizer and callback states");
        a.add("mode", d.mode, "Whether a lower ('min') or higher ('max') monitored value is better")
            .only({"min", "max"});
        a.add("auto_insert_metric_name", d.auto_insert_metric_name, "Write 'epoch=' before {epoch} in the name");
        a.add("every_n_train_steps", d.every_n_train_steps, "Save every N optimizer steps");
        a.add_any("train_time_interval", nullptr, "Save every this much time: 'DD:HH:MM:SS' or seconds");
        a.add("every_n_epochs", d.every_n_epochs, "Save every N epochs");
        a.add("save_on_train_epoch_end", d.save_on_train_epoch_end,
              "Save at the training epoch's end (true) or after validation (false)");
        a.add("enable_version_counter", d.enable_version_counter, "Add -v1, -v2... to names that exist already");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        ModelCheckpointOptions o;
        o.dirpath = v.get<std::optional<std::string>>("dirpath");
        o.filename = v.get<std::optional<std::string>>("filename");
        o.monitor = v.get<std::optional<std::string>>("monitor");
        o.verbose = v.get<bool>("verbose");
        o.save_last = v.get<bool>("save_last");
        o.save_top_k = v.get<int64_t>("save_top_k");
        o.save_weights_only = v.get<bool>("save_weights_only");
        o.mode = v.get<std::string>("mode");
        o.auto_insert_metric_name = v.get<bool>("auto_insert_metric_name");
        o.every_n_train_steps = v.get<std::optional<int64_t>>("every_n_train_steps");
        o.train_time_interval = duration_arg(v, "ModelCheckpoint", "train_time_interval");
        o.every_n_epochs = v.get<std::optional<int64_t>>("every_n_epochs");
        o.save_on_train_epoch_end = v.get<std::optional<bool>>("save_on_train_epoch_end");
        o.enable_version_counter = v.get<bool>("enable_version_counter");
        return std::make_shared<ModelCheckpoint>(o);
      },
      "Save the model periodically by monitoring a quantity");

  register_class(
      "EarlyStopping",
      [](cli::Arguments& a) {
        const EarlyStoppingOptions d;
        a.add_required<std::string>("monitor", "Metric to watch (a key of callback_metrics)");
        a.add("min_delta", d.min_delta, "Smallest change that counts as an improvement");
        a.add("patience", d.patience, "Checks without improvement before stopping");
        a.add("verbose", d.verbose, "Print why it stops");
        a.add("mode", d.mode, "Whether the metric should decrease ('min') or increase ('max')").only({"min", "max"});
        a.add("strict", d.strict, "A missing metric is an error (true) or a warning (false)");
        a.add("check_finite", d.check_finite, "Stop when the metric becomes NaN or infinite");
        a.add("stopping_threshold", d.stopping_threshold, "Stop as soon as the metric is better than this");
        a.add("divergence_threshold", d.divergence_threshold, "Stop as soon as the metric is worse than this");
        a.add("check_on_train_epoch_end", d.check_on_train_epoch_end,
              "Check at the training epoch's end (true) or after validation (false)");
        a.add("log_rank_zero_only", d.log_rank_zero_only, "Print the stopping reason on rank 0 only");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        EarlyStoppingOptions o;
        o.monitor = v.get<std::string>("monitor");
        o.min_delta = v.get<double>("min_delta");
        o.patience = v.get<int64_t>("patience");
        o.verbose = v.get<bool>("verbose");
        o.mode = v.get<std::string>("mode");
        o.strict = v.get<bool>("strict");
        o.check_finite = v.get<bool>("check_finite");
        o.stopping_threshold = v.get<std::optional<double>>("stopping_threshold");
        o.divergence_threshold = v.get<std::optional<double>>("divergence_threshold");
        o.check_on_train_epoch_end = v.get<std::optional<bool>>("check_on_train_epoch_end");
        o.log_rank_zero_only = v.get<bool>("log_rank_zero_only");
        return std::make_shared<EarlyStopping>(o);
      },
      "Stop training when a monitored metric has stopped improving");

  register_class(
      "DeviceStatsMonitor",
      [](cli::Arguments& a) {
        a.add<std::optional<bool>>("cpu_stats", std::nullopt,
                                   "Log the CPU's figures: null only on the CPU, true also next to a GPU, false never");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<DeviceStatsMonitor>(v.get<std::optional<bool>>("cpu_stats"));
      },
      "Log the accelerator's memory and load at every logged batch");

  register_class(
      "LearningRateMonitor",
      [](cli::Arguments& a) {
        a.add<std::optional<std::string>>("logging_interval", std::nullopt,
                                          "'step', 'epoch', or null (each scheduler's own interval)")
            .only({"step", "epoch"});
        a.add("log_momentum", false, "Also log the momentum (or Adam's beta1)");
        a.add("log_weight_decay", false, "Also log the weight decay");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<LearningRateMonitor>(v.get<std::optional<std::string>>("logging_interval"),
                                                     v.get<bool>("log_momentum"), v.get<bool>("log_weight_decay"));
      },
      "Log the learning rate of each optimizer");

  register_class(
      "ModelSummary", [](cli::Arguments& a) { a.add("max_depth", 1, "Layers to show: 1 direct children, -1 all"); },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<ModelSummary>(v.get<int>("max_depth"));
      },
      "Print a summary of the model's layers when fit starts");

  register_class(
      "Timer",
      [](cli::Arguments& a) {
        a.add_any("duration", nullptr, "Time budget: 'DD:HH:MM:SS', seconds, or {days: 1, hours: 5}");
        a.add("interval", std::string("step"), "Check after every 'step' or 'epoch'").only({"step", "epoch"});
        a.add("verbose", true, "Print when the budget is spent");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<Timer>(duration_arg(v, "Timer", "duration"), v.get<std::string>("interval"),
                                       v.get<bool>("verbose"));
      },
      "Stop training once a time budget is spent");

  register_class(
      "TQDMProgressBar",
      [](cli::Arguments& a) {
        const TQDMProgressBarOptions d;
        a.add("refresh_rate", d.refresh_rate, "Redraw every N batches (0: no bar)");
        a.add("process_position", d.process_position, "Row offset of the bars");
        a.add("leave", d.leave, "Keep one finished training bar per epoch");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        TQDMProgressBarOptions o;
        o.refresh_rate = v.get<int>("refresh_rate");
        o.process_position = v.get<int>("process_position");
        o.leave = v.get<bool>("leave");
        return std::make_shared<TQDMProgressBar>(o);
      },
      "The progress bar");

  register_class(
      "GradientAccumulationScheduler",
      [](cli::Arguments& a) {
        a.add_required<std::map<int, int>>("scheduling", "Epoch -> accumulation factor, e.g. {0: 1, 5: 3}");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<GradientAccumulationScheduler>(v.get<std::map<int, int>>("scheduling"));
      },
      "Change accumulate_grad_batches at given epochs");

  register_class(
      "LearningRateFinder",
      [](cli::Arguments& a) {
        const tuner::LRFinderOptions d;
        a.add("min_lr", d.min_lr, "Smallest learning rate of the sweep");
        a.add("max_lr", d.max_lr, "Largest learning rate of the sweep");
        a.add("num_training_steps", d.num_training, "Steps of the sweep");
        a.add("mode", d.mode, "'exponential' or 'linear' steps between min_lr and max_lr");
        a.add("early_stop_threshold", d.early_stop_threshold,
              "Stop when the loss exceeds this multiple of the best (null: never)");
        a.add("update_attr", d.update_attr, "Write the suggestion into the module's lr");
        a.add("attr_name", d.attr_name, "The hyperparameter to set (empty: lr or learning_rate)");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<LearningRateFinder>(
            v.get<double>("min_lr"), v.get<double>("max_lr"), v.get<int64_t>("num_training_steps"),
            v.get<std::string>("mode"), v.get<std::optional<double>>("early_stop_threshold"),
            v.get<bool>("update_attr"), v.get<std::string>("attr_name"));
      },
      "Run the learning-rate finder when fit starts");

  register_class(
      "BatchSizeFinder",
      [](cli::Arguments& a) {
        const tuner::BatchSizeScalerOptions d;
        a.add("mode", d.mode, "'power' (double until failure) or 'binsearch'");
        a.add("steps_per_trial", d.steps_per_trial, "Steps run per batch size");
        a.add("init_val", d.init_val, "The first batch size tried");
        a.add("max_trials", d.max_trials, "Batch sizes tried at most");
        a.add("batch_arg_name", d.batch_arg_name, "The module's or datamodule's batch size attribute");
        a.add("max_memory", d.max_memory, "On CPU: bytes a trial may allocate before it counts as out of memory");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<BatchSizeFinder>(v.get<std::string>("mode"), v.get<int64_t>("steps_per_trial"),
                                                 v.get<int64_t>("init_val"), v.get<int64_t>("max_trials"),
                                                 v.get<std::string>("batch_arg_name"),
                                                 v.get<std::optional<int64_t>>("max_memory"));
      },
      "Scale the batch size when fit starts");

  register_class(
      "OnExceptionCheckpoint",
      [](cli::Arguments& a) {
        a.add_required<std::string>("dirpath", "Folder of the checkpoint");
        a.add("filename", std::string("on_exception"), "File name without .ckpt");
      },
      [](const cli::InitArgs& v) -> std::shared_ptr<Callback> {
        return std::make_shared<OnExceptionCheckpoint>(v.get<std::string>("dirpath"), v.get<std::string>("filename"));
      },
      "Save a checkpoint when a run fails or is interrupted");
}

}  // namespace lightning
