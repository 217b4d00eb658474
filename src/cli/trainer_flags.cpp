#include "cli/trainer_flags.h"

#include "cli/classes.h"
#include "utilities/numbers.h"
#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/registry.h"
#include "lightning/cli/registries.h"
#include "lightning/loggers/logger.h"
#include "lightning/plugins/plugin.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>

namespace lightning::cli::detail {
namespace {

using Form = TrainerFlag::Form;

// --- value forms -----------------------------------------------------------------------------

int64_t int_of(const Value& v, const std::string& key, const char* accepted) {
  if (!v.is_int()) throw_invalid(key, v, accepted);
  return v.as_int();
}

std::optional<int64_t> optional_int(const Value& v, const std::string& key, const char* accepted) {
  if (v.is_null()) return std::nullopt;
  return int_of(v, key, accepted);
}

bool bool_value(const Value& v, const std::string& key) {
  auto b = bool_of(v);
  if (!b) throw_invalid(key, v, "true or false");
  return *b;
}

std::optional<bool> optional_bool(const Value& v, const std::string& key) {
  if (v.is_null()) return std::nullopt;
  auto b = bool_of(v);
  if (!b) throw_invalid(key, v, "true, false or null");
  return *b;
}

std::string string_of(const Value& v, const std::string& key, const char* accepted) {
  if (!v.is_string()) throw_invalid(key, v, accepted);
  return v.as_string();
}

// Lightning 1.x's `_int_or_float_type`: "10" is a count, "10.0" and "0.25" floats (the Trainer then
// treats a float with an integral value above 1 as a count).
BatchLimit batch_limit(const Value& v, const std::string& key, const char* accepted) {
  if (v.is_int()) return BatchLimit(v.as_int());
  if (v.is_float()) return BatchLimit(v.as_number());
  throw_invalid(key, v, accepted);
}

Value dump_limit(const BatchLimit& l) {
  return l.is_count() ? Value(std::get<int64_t>(l.value)) : Value(std::get<double>(l.value));
}

Value dump_optional_limit(const std::optional<BatchLimit>& l) { return l ? dump_limit(*l) : Value(); }

template <typename T>
Value dump_optional(const std::optional<T>& v) {
  return v ? Value(*v) : Value();
}

constexpr const char* kLimitAccepted = "a float fraction in [0.0, 1.0] or an int number of batches >= 0, or null";

TrainerFlag limit_flag(const char* name, const char* stage, std::optional<BatchLimit> TrainerOptions::*field) {
  return {name,
          "FLOAT|INT|null",
          fmt::format("How much of the {} set to use: a float fraction or an int number of batches (null: 1.0)", stage),
          Form::Value,
          [field](const TrainerOptions& o) { return dump_optional_limit(o.*field); },
          [field](TrainerOptions& o, const Value& v, const std::string& key) {
            if (v.is_null())
              o.*field = std::nullopt;
            else
              o.*field = batch_limit(v, key, kLimitAccepted);
          }};
}

TrainerFlag optional_int_flag(const char* name, const std::string& doc, const char* accepted,
                              std::optional<int64_t> TrainerOptions::*field) {
  return {name,
          "INT|null",
          doc,
          Form::Value,
          [field](const TrainerOptions& o) { return dump_optional(o.*field); },
          [field, accepted](TrainerOptions& o, const Value& v, const std::string& key) {
            o.*field = optional_int(v, key, accepted);
          }};
}

TrainerFlag int_flag(const char* name, const std::string& doc, const char* accepted, int64_t TrainerOptions::*field) {
  return {name,
          "INT",
          doc,
          Form::Value,
          [field](const TrainerOptions& o) { return Value(o.*field); },
          [field, accepted](TrainerOptions& o, const Value& v, const std::string& key) {
            o.*field = int_of(v, key, accepted);
          }};
}

TrainerFlag bool_flag(const char* name, const std::string& doc, bool TrainerOptions::*field) {
  return {name,
          "BOOL",
          doc,
          Form::BareTrue,
          [field](const TrainerOptions& o) { return Value(o.*field); },
          [field](TrainerOptions& o, const Value& v, const std::string& key) { o.*field = bool_value(v, key); }};
}

TrainerFlag optional_bool_flag(const char* name, const std::string& doc, std::optional<bool> TrainerOptions::*field) {
  return {name,
          "BOOL|null",
          doc,
          Form::BareTrue,
          [field](const TrainerOptions& o) { return dump_optional(o.*field); },
          [field](TrainerOptions& o, const Value& v, const std::string& key) { o.*field = optional_bool(v, key); }};
}

TrainerFlag tuner_flag(const char* name, const std::string& doc, TunerFlag TrainerOptions::*field) {
  return {name,
          "BOOL|STR",
          doc,
          Form::BareTrue,
          [field](const TrainerOptions& o) {
            const TunerFlag& f = o.*field;
            return !f.enabled ? Value(false) : f.value.empty() ? Value(true) : Value(f.value);
          },
          [field](TrainerOptions& o, const Value& v, const std::string& key) {
            if (v.is_string() && !bool_of(v))
              o.*field = TunerFlag(v.as_string());
            else if (auto b = bool_of(v))
              o.*field = TunerFlag(*b);
            else
              throw_invalid(key, v, "true, false or a string");
          }};
}

TrainerFlag classes_flag(const char* name, const char* type, const std::string& doc) {
  return {name, type, doc, Form::Classes, nullptr, nullptr};
}

std::vector<TrainerFlag> make_flags() {
  std::vector<TrainerFlag> f;
  f.push_back({"accelerator", "STR", "'cpu', 'gpu', 'cuda', 'auto' or a name registered in the AcceleratorRegistry",
               Form::StringOnly,
               [](const TrainerOptions& o) { return o.accelerator.object ? Value() : Value(o.accelerator.name); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 o.accelerator = string_of(v, key, "'cpu', 'gpu', 'cuda', 'auto' or a registered accelerator name");
               }});
  f.push_back({"strategy", "STR",
               "'auto', 'single_device', 'ddp', 'ddp_spawn', ... or a name registered in the StrategyRegistry",
               Form::StringOnly,
               [](const TrainerOptions& o) { return o.strategy.object ? Value() : Value(o.strategy.name); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 o.strategy = string_of(v, key, "'auto', 'ddp', 'ddp_spawn', ... or a registered strategy name");
               }});
  f.push_back({"devices", "INT|STR|[INT, ...]", "How many devices (-1: all), 'auto', or which ones: '0,1' or [0, 1]",
               Form::Value,
               [](const TrainerOptions& o) {
                 if (auto* n = std::get_if<int64_t>(&o.devices.value)) return Value(*n);
                 if (auto* s = std::get_if<std::string>(&o.devices.value)) return Value(*s);
                 Value::List ids;
                 for (int i : std::get<std::vector<int>>(o.devices.value)) ids.emplace_back(i);
                 return Value(std::move(ids));
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 constexpr const char* accepted =
                     "an int (-1: all devices), 'auto', a string of device indices ('0,1') or a list of indices "
                     "([0, 1])";
                 if (v.is_int()) {
                   o.devices = v.as_int();
                 } else if (v.is_string()) {
                   o.devices = v.as_string();
                 } else if (v.is_list()) {
                   std::vector<int> ids;
                   for (const auto& e : v.as_list()) ids.push_back(static_cast<int>(int_of(e, key, accepted)));
                   o.devices = ids;
                 } else {
                   throw_invalid(key, v, accepted);
                 }
               }});
  f.push_back(int_flag("num_nodes", "Number of machines (nodes) for distributed training", "an int >= 1",
                       &TrainerOptions::num_nodes));
  f.push_back({"precision", "INT|STR",
               "64, 32, 16, '64-true', '32-true', '16-mixed', 'bf16-mixed', '16-true' or 'bf16-true'", Form::Value,
               [](const TrainerOptions& o) {
                 const std::string& p = o.precision.value;
                 const auto bits = lightning::detail::parse_integer<int64_t>(p);
                 return bits && std::all_of(p.begin(), p.end(), ::isdigit) ? Value(*bits) : Value(p);
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_int())
                   o.precision = static_cast<int>(v.as_int());
                 else
                   o.precision = string_of(v, key, "64, 32, 16, '32-true', '16-mixed', 'bf16-mixed', ...");
               }});
  f.push_back(classes_flag("logger", "BOOL|CLASS",
                           "true (TensorBoardLogger), false (none), or a logger class (TensorBoardLogger, CSVLogger) "
                           "with its arguments as .ARG VALUE"));
  f.push_back(classes_flag("callbacks", "CLASS",
                           "A callback by class name (ModelCheckpoint, EarlyStopping, ...) with its arguments as "
                           ".ARG VALUE"));
  f.push_back({"fast_dev_run", "BOOL|INT", "Run 1 (true) or N batches of train, val and test to find bugs",
               Form::BareTrue,
               [](const TrainerOptions& o) {
                 return o.fast_dev_run.batches == 0 ? Value(false) : Value(o.fast_dev_run.batches);
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_int() && v.as_int() != 0 && v.as_int() != 1)
                   o.fast_dev_run = static_cast<int>(v.as_int());
                 else if (auto b = bool_of(v))
                   o.fast_dev_run = *b;
                 else
                   throw_invalid(key, v, "true, false or an int >= 0");
               }});
  f.push_back(optional_int_flag("max_epochs",
                                "Stop after this many epochs (null: 1000 unless max_steps is set; -1: no limit)",
                                "an int >= -1 (-1: no limit), or null", &TrainerOptions::max_epochs));
  f.push_back(optional_int_flag("min_epochs", "Train at least this many epochs", "an int >= 0, or null",
                                &TrainerOptions::min_epochs));
  f.push_back(int_flag("max_steps", "Stop after this many optimizer steps (-1: no limit)",
                       "an int >= -1 (-1: no limit)", &TrainerOptions::max_steps));
  f.push_back(optional_int_flag("min_steps", "Train at least this many optimizer steps", "an int >= 0, or null",
                                &TrainerOptions::min_steps));
  f.push_back({"max_time", "STR|DICT|null", "Stop after this much time: 'DD:HH:MM:SS', or {days: 1, hours: 5}",
               Form::Value,
               [](const TrainerOptions& o) {
                 if (!o.max_time) return Value();
                 if (auto* s = std::get_if<std::string>(&o.max_time->value)) return Value(*s);
                 if (auto* d = std::get_if<std::chrono::duration<double>>(&o.max_time->value)) return Value(d->count());
                 Value::Map parts;
                 for (const auto& [k, n] : std::get<std::map<std::string, int64_t>>(o.max_time->value))
                   parts.emplace_back(k, Value(n));
                 return Value(std::move(parts));
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 constexpr const char* accepted =
                     "a string \"DD:HH:MM:SS\", a number of seconds, or a mapping with keys "
                     "days/hours/minutes/seconds and int values, or null";
                 if (v.is_null()) {
                   o.max_time = std::nullopt;
                 } else if (v.is_string()) {
                   o.max_time = MaxTime(v.as_string());
                 } else if (v.is_int() || v.is_float()) {
                   o.max_time = MaxTime(std::chrono::duration<double>(v.as_number()));
                 } else if (v.is_map()) {
                   std::map<std::string, int64_t> parts;
                   for (const auto& [k, n] : v.as_map()) parts[k] = int_of(n, key, accepted);
                   o.max_time = MaxTime(parts);
                 } else {
                   throw_invalid(key, v, accepted);
                 }
               }});
  f.push_back(limit_flag("limit_train_batches", "training", &TrainerOptions::limit_train_batches));
  f.push_back(limit_flag("limit_val_batches", "validation", &TrainerOptions::limit_val_batches));
  f.push_back(limit_flag("limit_test_batches", "test", &TrainerOptions::limit_test_batches));
  f.push_back(limit_flag("limit_predict_batches", "prediction", &TrainerOptions::limit_predict_batches));
  f.push_back({"overfit_batches", "FLOAT|INT",
               "Train and validate on this fraction (float) or number (int) of training batches (0: off)", Form::Value,
               [](const TrainerOptions& o) { return dump_limit(o.overfit_batches); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 o.overfit_batches =
                     batch_limit(v, key, "a float fraction in [0.0, 1.0] or an int number of batches >= 0");
               }});
  f.push_back({"track_grad_norm", "INT|FLOAT|'inf'",
               "Log the gradients' p-norm of this order (-1: off; 'inf': the max norm)", Form::Value,
               [](const TrainerOptions& o) {
                 double p = o.track_grad_norm.value;
                 if (std::isinf(p)) return Value("inf");
                 return std::floor(p) == p ? Value(static_cast<int64_t>(p)) : Value(p);
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_int())
                   o.track_grad_norm = static_cast<int>(v.as_int());
                 else if (v.is_float())
                   o.track_grad_norm = v.as_number();
                 else if (v.is_string())
                   o.track_grad_norm = TrackGradNorm(v.as_string().c_str());
                 else
                   throw_invalid(key, v, "-1 (off), a p-norm order > 0, or \"inf\"");
               }});
  f.push_back({"val_check_interval", "FLOAT|INT|null",
               "Validate after this fraction of a training epoch (float) or every N training batches (int)",
               Form::Value, [](const TrainerOptions& o) { return dump_optional_limit(o.val_check_interval); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_null())
                   o.val_check_interval = std::nullopt;
                 else
                   o.val_check_interval = batch_limit(v, key, "a float in (0.0, 1.0] or an int >= 1, or null");
               }});
  f.push_back(optional_int_flag("check_val_every_n_epoch",
                                "Validate every N epochs (null: every val_check_interval batches across epochs)",
                                "an int >= 1, or null to validate every val_check_interval batches across epochs",
                                &TrainerOptions::check_val_every_n_epoch));
  f.push_back(optional_int_flag(
      "num_sanity_val_steps", "Validation batches run before training (null: 2; -1: the whole validation set)",
      "an int >= 0, or -1 for the whole validation set, or null", &TrainerOptions::num_sanity_val_steps));
  f.push_back(optional_int_flag("log_every_n_steps", "How often to send logged metrics to the loggers (null: 50)",
                                "an int >= 0, or null", &TrainerOptions::log_every_n_steps));
  f.push_back(optional_bool_flag("enable_checkpointing",
                                 "Add a ModelCheckpoint callback when none is given (null: true)",
                                 &TrainerOptions::enable_checkpointing));
  f.push_back(optional_bool_flag("enable_progress_bar", "Show the progress bar (null: true)",
                                 &TrainerOptions::enable_progress_bar));
  f.push_back(optional_bool_flag("enable_model_summary", "Print the model summary when fit starts (null: true)",
                                 &TrainerOptions::enable_model_summary));
  f.push_back({"accumulate_grad_batches", "INT|{INT: INT}",
               "Accumulate gradients over N batches, or a schedule epoch -> N: '{5: 3, 10: 20}'", Form::Value,
               [](const TrainerOptions& o) {
                 const auto& a = o.accumulate_grad_batches;
                 if (a.schedule.empty()) return Value(a.factor);
                 Value::Map schedule;
                 for (const auto& [epoch, factor] : a.schedule)
                   schedule.emplace_back(std::to_string(epoch), Value(factor));
                 return Value(std::move(schedule));
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 constexpr const char* accepted = "an int >= 1, or a mapping epoch -> factor such as {5: 3, 10: 20}";
                 if (v.is_int()) {
                   o.accumulate_grad_batches = v.as_int();
                   return;
                 }
                 if (!v.is_map()) throw_invalid(key, v, accepted);
                 std::map<int, int> schedule;
                 for (const auto& [epoch, factor] : v.as_map()) {
                   Value e = parse_yaml(epoch, key);
                   if (!e.is_int() || !factor.is_int()) throw_invalid(key, v, accepted);
                   schedule[static_cast<int>(e.as_int())] = static_cast<int>(factor.as_int());
                 }
                 o.accumulate_grad_batches = schedule;
               }});
  f.push_back({"gradient_clip_val", "FLOAT|null", "Clip gradients at this value (null or 0: no clipping)", Form::Value,
               [](const TrainerOptions& o) { return dump_optional(o.gradient_clip_val); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_null())
                   o.gradient_clip_val = std::nullopt;
                 else if (v.is_int() || v.is_float())
                   o.gradient_clip_val = v.as_number();
                 else
                   throw_invalid(key, v, "a number >= 0 (0 or null: no clipping)");
               }});
  f.push_back({"gradient_clip_algorithm", "STR|null", "'norm' or 'value' (null: 'norm')", Form::StringOnly,
               [](const TrainerOptions& o) { return dump_optional(o.gradient_clip_algorithm); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_null())
                   o.gradient_clip_algorithm = std::nullopt;
                 else
                   o.gradient_clip_algorithm = string_of(v, key, "'norm', 'value'");
               }});
  f.push_back({"deterministic", "BOOL|'warn'|null",
               "Use deterministic algorithms (true), or where possible with warnings ('warn')", Form::BareTrue,
               [](const TrainerOptions& o) {
                 if (!o.deterministic) return Value();
                 const auto& d = o.deterministic->value;
                 return d == "true" ? Value(true) : d == "false" ? Value(false) : Value(d);
               },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_null())
                   o.deterministic = std::nullopt;
                 else if (auto b = bool_of(v))
                   o.deterministic = *b;
                 else
                   o.deterministic = Deterministic(string_of(v, key, "true, false, \"warn\"").c_str());
               }});
  f.push_back(optional_bool_flag("benchmark", "Set torch.backends.cudnn.benchmark (null: unchanged)",
                                 &TrainerOptions::benchmark));
  f.push_back(bool_flag("inference_mode", "Evaluate under inference mode (true) or no_grad (false)",
                        &TrainerOptions::inference_mode));
  f.push_back(optional_bool_flag("use_distributed_sampler",
                                 "Give each process a DistributedSampler under a distributed strategy (null: true)",
                                 &TrainerOptions::use_distributed_sampler));
  f.push_back(optional_bool_flag("replace_sampler_ddp", "Lightning 1.x's name of use_distributed_sampler",
                                 &TrainerOptions::replace_sampler_ddp));
  f.push_back(
      {"profiler", "STR|null", "'simple', 'advanced' or 'passthrough' (null: no profiling)", Form::StringOnly,
       [](const TrainerOptions& o) { return !o.profiler || o.profiler->object ? Value() : Value(o.profiler->name); },
       [](TrainerOptions& o, const Value& v, const std::string& key) {
         if (v.is_null())
           o.profiler = std::nullopt;
         else
           o.profiler = ProfilerInput(string_of(v, key, "'simple', 'advanced', 'passthrough', or null"));
       }});
  f.push_back(bool_flag("detect_anomaly", "Enable autograd's anomaly detection", &TrainerOptions::detect_anomaly));
  f.push_back(tuner_flag("auto_scale_batch_size",
                         "trainer.tune() scales the batch size: true or 'power', or 'binsearch'",
                         &TrainerOptions::auto_scale_batch_size));
  f.push_back(bool_flag("barebones", "Turn off every feature that costs time per step", &TrainerOptions::barebones));
  f.push_back(classes_flag("plugins", "CLASS", "A plugin by class name (AsyncCheckpointIO, SLURMEnvironment, ...)"));
  f.push_back(bool_flag("sync_batchnorm", "Synchronise SyncBatchNorm layers across processes",
                        &TrainerOptions::sync_batchnorm));
  f.push_back(int_flag("reload_dataloaders_every_n_epochs", "Reload the dataloaders every N epochs (0: never)",
                       "an int >= 0", &TrainerOptions::reload_dataloaders_every_n_epochs));
  f.push_back(tuner_flag("auto_lr_find",
                         "trainer.tune() runs the learning-rate finder: true, or the hyperparameter's name",
                         &TrainerOptions::auto_lr_find));
  f.push_back({"default_root_dir", "STR|null", "Folder of logs and checkpoints (null: the working directory)",
               Form::StringOnly, [](const TrainerOptions& o) { return dump_optional(o.default_root_dir); },
               [](TrainerOptions& o, const Value& v, const std::string& key) {
                 if (v.is_null())
                   o.default_root_dir = std::nullopt;
                 else
                   o.default_root_dir = string_of(v, key, "a folder path, or null");
               }});
  return f;
}

// --- classes -------------------------------------------------------------------------------

template <typename F>
decltype(auto) with_registry(const std::string& flag, F&& f) {
  if (flag == "callbacks") return f(CallbackRegistry::instance());
  if (flag == "plugins") return f(PluginRegistry::instance());
  return f(LoggerRegistry::instance());
}

}  // namespace

const std::vector<TrainerFlag>& trainer_flags() {
  static const std::vector<TrainerFlag> flags = make_flags();
  return flags;
}

const TrainerFlag* find_trainer_flag(const std::string& name) {
  for (const auto& f : trainer_flags())
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string> trainer_flag_names() {
  std::vector<std::string> out;
  for (const auto& f : trainer_flags()) out.push_back(f.name);
  return out;
}

Value class_flag_spec(const std::string& flag, const Value& spec, const std::string& key) {
  if (spec.is_null()) return spec;  // the default: none (the default logger)
  if (flag == "logger" && (spec.is_bool() || (spec.is_string() && bool_of(spec)))) {
    Value b(*bool_of(spec));
    b.origin = spec.origin;
    return b;
  }
  return with_registry(flag, [&](const auto& registry) {
    Value::List out;
    if (spec.is_list()) {
      for (size_t i = 0; i < spec.as_list().size(); ++i)
        out.push_back(class_spec(registry, spec.as_list()[i], fmt::format("{}[{}]", key, i)));
    } else {
      out.push_back(class_spec(registry, spec, key));
    }
    return Value(std::move(out));
  });
}

std::optional<Argument> class_flag_argument(const std::string& flag, const Value& specs, const std::string& arg) {
  if (!specs.is_list() || specs.as_list().empty()) return std::nullopt;
  const Value* name = specs.as_list().back().find("class_path");
  return with_registry(flag, [&](const auto& registry) -> std::optional<Argument> {
    const auto entry = registry.find(name->as_string());
    if (!entry || !entry->arguments.find(arg)) return std::nullopt;
    return *entry->arguments.find(arg);
  });
}

void set_class_flag_arg(const std::string& flag, Value& specs, const std::string& arg, const Value& v,
                        const std::string& key) {
  if (!specs.is_list() || specs.as_list().empty())
    throw MisconfigurationException(
        fmt::format("{}={} sets an argument of the last {} class, but none is given before it; accepted: a class "
                    "name first ({})",
                    key, v.str(), flag, quoted_names(class_flag_classes(flag))));
  with_registry(flag, [&](const auto& registry) { set_init_arg(registry, specs.as_list().back(), arg, v, key); });
}

void check_class_flag(const std::string& flag, const Value& specs, const std::string& key) {
  if (!specs.is_list()) return;
  with_registry(flag, [&](const auto& registry) {
    for (size_t i = 0; i < specs.as_list().size(); ++i)
      check_required(registry, specs.as_list()[i], fmt::format("{}[{}]", key, i));
  });
}

std::vector<std::string> class_flag_arguments(const std::string& flag) {
  return with_registry(flag, [&](const auto& registry) {
    std::vector<std::string> out;
    for (const auto& name : registry.names()) {
      const auto entry = registry.find(name);  // a copy: keep it alive while iterating
      for (const auto& a : entry->arguments.all())
        if (std::find(out.begin(), out.end(), a.name) == out.end()) out.push_back(a.name);
    }
    return out;
  });
}

std::vector<std::string> class_flag_classes(const std::string& flag) {
  return with_registry(flag, [](const auto& registry) { return registry.names(); });
}

void apply_classes(TrainerOptions& options, const std::string& flag, const Value& specs, const std::string& key) {
  if (flag == "logger" && (specs.is_bool() || specs.is_null())) {
    options.logger = specs.is_null() || specs.as_bool();  // null: Lightning's logger=None, the default logger
    return;
  }
  if (specs.is_null()) return;
  if (!specs.is_list()) throw_invalid(key, specs, "a list of classes");
  const auto& list = specs.as_list();
  if (flag == "callbacks") {
    for (size_t i = 0; i < list.size(); ++i)
      options.callbacks.push_back(instantiate(CallbackRegistry::instance(), list[i], fmt::format("{}[{}]", key, i)));
  } else if (flag == "plugins") {
    for (size_t i = 0; i < list.size(); ++i)
      options.plugins.push_back(instantiate(PluginRegistry::instance(), list[i], fmt::format("{}[{}]", key, i)));
  } else {
    std::vector<std::shared_ptr<Logger>> loggers;
    const std::string root = options.default_root_dir.value_or(std::filesystem::current_path().string());
    for (size_t i = 0; i < list.size(); ++i) {
      Value spec = list[i];
      Value* save_dir = spec["init_args"].find("save_dir");
      if (save_dir && save_dir->is_null()) *save_dir = Value(root);
      loggers.push_back(instantiate(LoggerRegistry::instance(), spec, fmt::format("{}[{}]", key, i)));
    }
    options.logger = loggers.empty() ? LoggerInput(false) : LoggerInput(std::move(loggers));
  }
}

}  // namespace lightning::cli::detail
