#pragma once
// Every Trainer flag as the command line and config files see it: its name, type, one line of
// doc, and the conversions between a YAML value and its TrainerOptions field. One table serves
// Trainer::add_argparse_args (CLI11) and LightningCLI (`--trainer.*`, `trainer:` in YAML).
#include "lightning/cli/arguments.h"
#include "lightning/trainer/options.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lightning::cli::detail {

struct TrainerFlag {
  enum class Form {
    Value,       // a YAML value
    BareTrue,    // a YAML value; the flag alone means true
    StringOnly,  // the token as it is ("null": unset)
    Classes,     // callbacks, logger, plugins: class names with init args (cli/classes.h)
  };
  std::string name;
  /// The value forms, for --help: "INT|null", "FLOAT|INT", ...
  std::string type;
  std::string doc;
  Form form = Form::Value;
  /// The field of `options` as a YAML value (null for objects, which a config cannot spell).
  std::function<Value(const TrainerOptions& options)> dump;
  /// Sets the field from `v`; throws MisconfigurationException "<key>=<v> is invalid; accepted: ..."
  /// for a value of another form. The range checks are the Trainer's own, when it is built.
  std::function<void(TrainerOptions& options, const Value& v, const std::string& key)> apply;
};

/// Every flag, in TrainerOptions' order (the callbacks, logger and plugins entries have no dump
/// or apply: see apply_classes).
const std::vector<TrainerFlag>& trainer_flags();
const TrainerFlag* find_trainer_flag(const std::string& name);
std::vector<std::string> trainer_flag_names();

/// `spec` (a class name, a mapping, a list of those; for the logger also true/false) of a Classes
/// flag, canonical: a list of `{class_path, init_args}` (the logger's bool stays a bool).
Value class_flag_spec(const std::string& flag, const Value& spec, const std::string& key);
/// The argument `arg` of the last class in a canonical Classes value, if it declares one.
std::optional<Argument> class_flag_argument(const std::string& flag, const Value& specs, const std::string& arg);
/// Sets `arg` of the last class in a canonical Classes value (`--callbacks.monitor val_loss`).
void set_class_flag_arg(const std::string& flag, Value& specs, const std::string& arg, const Value& v,
                        const std::string& key);
/// Checks the required arguments of a canonical Classes value.
void check_class_flag(const std::string& flag, const Value& specs, const std::string& key);
/// The init-arg names of every class a Classes flag can build (for CLI11, which needs them declared).
std::vector<std::string> class_flag_arguments(const std::string& flag);
/// The registered class names of a Classes flag.
std::vector<std::string> class_flag_classes(const std::string& flag);
/// Builds the classes of a canonical Classes value into `options`: callbacks and plugins are
/// appended, loggers replace `options.logger`. A logger's unset save_dir is `default_root_dir`.
void apply_classes(TrainerOptions& options, const std::string& flag, const Value& specs, const std::string& key);

}  // namespace lightning::cli::detail
