#include "lightning/trainer/options.h"

#include "lightning/callbacks/timer.h"
#include "lightning/precision/precision.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "trainer/resolved_options.h"


#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <filesystem>
#include <regex>

namespace lightning {

std::string BatchLimit::str() const {
  return is_count() ? std::to_string(std::get<int64_t>(value)) : fmt::format("{}", std::get<double>(value));
}

std::chrono::duration<double> MaxTime::seconds() const {
  constexpr const char* accepted =
      "accepted: a string \"DD:HH:MM:SS\" (up to 9 digits a field), a std::chrono duration, or a map with keys "
      "days/hours/minutes/seconds and non-negative values";
  if (auto* d = std::get_if<std::chrono::duration<double>>(&value)) {
    if (d->count() < 0)
      throw MisconfigurationException(fmt::format("max_time={}s is negative; {}", d->count(), accepted));
    return *d;
  }
  if (auto* s = std::get_if<std::string>(&value)) {
    // Up to 9 digits a field (Python's timedelta stops at 999999999 days), so stod never overflows.
    static const std::regex pattern(R"(^(\d{1,9}):(\d{1,9}):(\d{1,9}):(\d{1,9})$)");
    std::smatch m;
    if (!std::regex_match(*s, m, pattern))
      throw MisconfigurationException(fmt::format("max_time=\"{}\" is invalid; {}", *s, accepted));
    double total = std::stod(m[1]) * 86400 + std::stod(m[2]) * 3600 + std::stod(m[3]) * 60 + std::stod(m[4]);
    return std::chrono::duration<double>(total);
  }
  double total = 0;
  for (const auto& [key, v] : std::get<std::map<std::string, int64_t>>(value)) {
    double unit = key == "days" ? 86400 : key == "hours" ? 3600 : key == "minutes" ? 60 : key == "seconds" ? 1 : -1;
    if (unit < 0 || v < 0)
      throw MisconfigurationException(fmt::format("max_time has an invalid entry {{\"{}\": {}}}; {}", key, v, accepted));
    total += unit * static_cast<double>(v);
  }
  return std::chrono::duration<double>(total);
}

TrackGradNorm::TrackGradNorm(const char* spec) {
  const std::string s = spec ? spec : "";
  if (s != "inf")
    throw MisconfigurationException(fmt::format(
        "track_grad_norm='{}' is invalid; accepted: -1 (off), a p-norm order > 0, or \"inf\"", s));
  value = std::numeric_limits<double>::infinity();
}

namespace detail {
namespace {

// Lightning's `_determine_batch_limits`: ints are counts, floats in [0, 1] fractions; a float
// with an integral value above 1 is a count.
BatchLimit batch_limit(const std::optional<BatchLimit>& given, const char* flag) {
  if (!given) return 1.0;
  if (given->is_count()) {
    auto n = std::get<int64_t>(given->value);
    if (n >= 0) return n;
  } else {
    double f = std::get<double>(given->value);
    if (f >= 0 && f <= 1) return f;
    if (f > 1 && std::floor(f) == f) return static_cast<int64_t>(f);
  }
  throw MisconfigurationException(fmt::format(
      "{}={} is invalid; accepted: a float fraction in [0.0, 1.0] or an int number of batches >= 0", flag,
      given->str()));
}

bool limit_is_zero(const BatchLimit& l) {
  return l.is_count() ? std::get<int64_t>(l.value) == 0 : std::get<double>(l.value) == 0.0;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw MisconfigurationException(message);
}

}  // namespace

ResolvedOptions resolve(const TrainerOptions& o) {
  ResolvedOptions r;

  if (o.use_distributed_sampler && o.replace_sampler_ddp)
    require(*o.use_distributed_sampler == *o.replace_sampler_ddp,
            fmt::format("use_distributed_sampler={} and replace_sampler_ddp={} contradict each other; accepted: one of "
                        "them (replace_sampler_ddp is Lightning 1.x's name of use_distributed_sampler)",
                        *o.use_distributed_sampler, *o.replace_sampler_ddp));
  r.use_distributed_sampler = o.use_distributed_sampler.value_or(o.replace_sampler_ddp.value_or(true));
  r.precision = plugins::resolve_precision(o.precision.value);

  // Loop limits.
  require(o.fast_dev_run.batches >= 0,
          fmt::format("fast_dev_run={} is invalid; accepted: true, false or an int >= 0", o.fast_dev_run.batches));
  r.fast_dev_run = o.fast_dev_run.batches;
  if (o.max_epochs)
    require(*o.max_epochs >= -1,
            fmt::format("max_epochs={} is invalid; accepted: an int >= -1 (-1: no limit)", *o.max_epochs));
  require(o.max_steps >= -1, fmt::format("max_steps={} is invalid; accepted: an int >= -1 (-1: no limit)", o.max_steps));
  if (o.min_epochs) require(*o.min_epochs >= 0, fmt::format("min_epochs={} is invalid; accepted: an int >= 0", *o.min_epochs));
  if (o.min_steps) require(*o.min_steps >= 0, fmt::format("min_steps={} is invalid; accepted: an int >= 0", *o.min_steps));
  // Lightning's `_parse_loop_limits`: without max_epochs, 1000 epochs unless max_steps or a Timer
  // bounds the run; min_epochs 1 when only min_steps is given (so should_stop re-checks), else 0.
  const bool timed = o.max_time || std::any_of(o.callbacks.begin(), o.callbacks.end(), [](const auto& c) {
                       return dynamic_cast<const Timer*>(c.get()) != nullptr;
                     });
  if (o.max_epochs) {
    r.max_epochs = *o.max_epochs;
  } else if (o.max_steps == -1 && !timed) {
    rank_zero_info("`max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch limit, set "
                   "`max_epochs=-1`.");
    r.max_epochs = 1000;
  } else {
    r.max_epochs = -1;
  }
  r.max_steps = o.max_steps;
  r.min_epochs = o.min_epochs.value_or(o.min_steps ? 1 : 0);
  r.min_steps = o.min_steps;
  if (o.min_epochs && o.max_epochs && *o.max_epochs >= 0)
    require(*o.min_epochs <= *o.max_epochs,
            fmt::format("min_epochs={} is larger than max_epochs={}; accepted: min_epochs <= max_epochs",
                        *o.min_epochs, *o.max_epochs));
  if (o.min_steps && o.max_steps >= 0)
    require(*o.min_steps <= o.max_steps, fmt::format("min_steps={} is larger than max_steps={}; accepted: "
                                                     "min_steps <= max_steps",
                                                     *o.min_steps, o.max_steps));
  if (o.max_time) r.max_time = o.max_time->seconds();

  r.limit_train_batches = batch_limit(o.limit_train_batches, "limit_train_batches");
  r.limit_val_batches = batch_limit(o.limit_val_batches, "limit_val_batches");
  r.limit_test_batches = batch_limit(o.limit_test_batches, "limit_test_batches");
  r.limit_predict_batches = batch_limit(o.limit_predict_batches, "limit_predict_batches");
  BatchLimit overfit = batch_limit(o.overfit_batches, "overfit_batches");
  r.overfit = !limit_is_zero(overfit);
  if (o.val_check_interval) {
    r.val_check_interval = batch_limit(o.val_check_interval, "val_check_interval");
    require(!limit_is_zero(r.val_check_interval),
            fmt::format("val_check_interval={} is invalid; accepted: a float in (0.0, 1.0] or an int >= 1",
                        o.val_check_interval->str()));
  }
  if (o.check_val_every_n_epoch)
    require(*o.check_val_every_n_epoch >= 1,
            fmt::format("check_val_every_n_epoch={} is invalid; accepted: an int >= 1, or unset (std::nullopt) "
                        "to validate every val_check_interval batches across epochs",
                        *o.check_val_every_n_epoch));
  r.check_val_every_n_epoch = o.check_val_every_n_epoch;
  int64_t sanity = o.num_sanity_val_steps.value_or(2);
  require(sanity >= -1, fmt::format("num_sanity_val_steps={} is invalid; accepted: an int >= 0, or -1 for "
                                    "the whole validation set",
                                    sanity));
  r.num_sanity_val_steps = sanity == -1 ? kUnbounded : sanity;
  r.log_every_n_steps = o.log_every_n_steps.value_or(50);
  require(r.log_every_n_steps >= 0,
          fmt::format("log_every_n_steps={} is invalid; accepted: an int >= 0 (0: only epoch-end rows)",
                      r.log_every_n_steps));
  const auto& accumulate = o.accumulate_grad_batches;
  require(accumulate.factor >= 1,
          fmt::format("accumulate_grad_batches={} is invalid; accepted: an int >= 1, or a map epoch -> factor",
                      accumulate.factor));
  for (const auto& [epoch, factor] : accumulate.schedule)
    require(epoch >= 0 && factor >= 1,
            fmt::format("accumulate_grad_batches has the entry {{{}: {}}}; accepted: epochs >= 0 mapped to factors >= 1",
                        epoch, factor));
  r.accumulate_grad_batches = accumulate.schedule.empty() ? accumulate.factor : 1;
  r.accumulate_grad_batches_schedule = accumulate.schedule;
  require(o.track_grad_norm.value == -1 || o.track_grad_norm.value > 0,
          fmt::format("track_grad_norm={} is invalid; accepted: -1 (off), a p-norm order > 0, or \"inf\"",
                      o.track_grad_norm.value));
  r.track_grad_norm = o.track_grad_norm.value;
  if (o.gradient_clip_val)
    require(*o.gradient_clip_val >= 0,
            fmt::format("gradient_clip_val={} is invalid; accepted: a number >= 0 (0 or unset: no clipping)",
                        *o.gradient_clip_val));
  r.gradient_clip_val = o.gradient_clip_val;
  if (o.gradient_clip_algorithm) {
    require(*o.gradient_clip_algorithm == "norm" || *o.gradient_clip_algorithm == "value",
            fmt::format("gradient_clip_algorithm='{}' is invalid; accepted: 'norm', 'value'",
                        *o.gradient_clip_algorithm));
    r.gradient_clip_algorithm = *o.gradient_clip_algorithm;
  }
  if (o.deterministic)
    require(o.deterministic->value == "true" || o.deterministic->value == "false" ||
                o.deterministic->value == "warn",
            fmt::format("deterministic='{}' is invalid; accepted: true, false, \"warn\"", o.deterministic->value));
  require(o.reload_dataloaders_every_n_epochs >= 0,
          fmt::format("reload_dataloaders_every_n_epochs={} is invalid; accepted: an int >= 0",
                      o.reload_dataloaders_every_n_epochs));
  r.reload_dataloaders_every_n_epochs = o.reload_dataloaders_every_n_epochs;
  // Lightning 1.x's tuner flags (whether the module has `auto_lr_find`'s name, `tune` checks).
  const auto& scale = o.auto_scale_batch_size;
  require(!scale.enabled || scale.value.empty() || scale.value == "power" || scale.value == "binsearch",
          fmt::format("auto_scale_batch_size='{}' is invalid; accepted: true, false, 'power', 'binsearch'",
                      scale.value));
  const auto& lr_name = o.auto_lr_find.value;
  static const std::regex identifier(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  require(!o.auto_lr_find.enabled || lr_name.empty() || std::regex_match(lr_name, identifier),
          fmt::format("auto_lr_find='{}' is invalid; accepted: true, false, or the name (an identifier) of the "
                      "module's learning-rate hyperparameter or attribute",
                      lr_name));
  r.inference_mode = o.inference_mode;
  r.detect_anomaly = o.detect_anomaly;

  r.logger_enabled = o.logger.enabled || !o.logger.loggers.empty();
  r.enable_checkpointing = o.enable_checkpointing.value_or(true);
  r.enable_progress_bar = o.enable_progress_bar.value_or(true);
  r.enable_model_summary = o.enable_model_summary.value_or(true);
  if (o.barebones) {
    // Lightning: barebones turns off every feature that costs time per step.
    auto forbid = [](bool set_true, const char* flag) {
      require(!set_true, fmt::format("{}=true is invalid together with barebones=true; accepted: false or unset",
                                     flag));
    };
    forbid(o.enable_checkpointing.value_or(false), "enable_checkpointing");
    forbid(o.enable_progress_bar.value_or(false), "enable_progress_bar");
    forbid(o.enable_model_summary.value_or(false), "enable_model_summary");
    forbid(!o.logger.loggers.empty(), "logger");
    forbid(o.log_every_n_steps.has_value(), "log_every_n_steps");
    require(!o.detect_anomaly, "detect_anomaly=true is invalid together with barebones=true; accepted: false");
    require(!o.profiler, fmt::format("profiler={} is invalid together with barebones=true; accepted: unset",
                                     o.profiler && o.profiler->object ? "<Profiler object>" : "'" + (o.profiler ? o.profiler->name : "") + "'"));
    r.enable_checkpointing = r.enable_progress_bar = r.enable_model_summary = r.logger_enabled = false;
  }

  // fast_dev_run and overfit_batches override the limits (Lightning's `_init_debugging_flags`).
  if (r.fast_dev_run > 0) {
    if (!r.overfit) r.limit_train_batches = r.limit_val_batches = r.fast_dev_run;
    r.limit_test_batches = r.limit_predict_batches = r.fast_dev_run;
    r.max_steps = r.fast_dev_run;
    r.num_sanity_val_steps = 0;
    r.max_epochs = 1;
    r.val_check_interval = 1.0;
    r.check_val_every_n_epoch = 1;
    // Loggers become a DummyLogger (Trainer) and checkpoint callbacks stay, skipping every save.
  }
  if (r.overfit) r.limit_train_batches = r.limit_val_batches = overfit;

  r.default_root_dir = o.default_root_dir.value_or(std::filesystem::current_path().string());
  return r;
}

int64_t num_batches_under_limit(const std::string& stage, int64_t length, const BatchLimit& limit) {
  if (limit.is_count()) return std::min(length, std::get<int64_t>(limit.value));
  double fraction = std::get<double>(limit.value);
  if (length == kUnbounded) {
    if (fraction == 1.0) return kUnbounded;
    if (fraction == 0.0) return 0;
    throw MisconfigurationException(fmt::format(
        "limit_{0}_batches={1} is invalid for a dataloader without a length (IterableDataset); accepted: 1.0 or "
        "an int number of batches",
        stage, fraction));
  }
  auto n = static_cast<int64_t>(static_cast<double>(length) * fraction);
  if (n == 0 && fraction > 0)
    throw MisconfigurationException(fmt::format(
        "limit_{0}_batches={1} selects no batch of the {0} dataloader ({1} * {2} < 1); accepted: at least "
        "limit_{0}_batches={3}",
        stage, fraction, length, 1.0 / static_cast<double>(length)));
  return n;
}

}  // namespace detail
}  // namespace lightning
