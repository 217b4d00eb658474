#pragma once
/// LightningCLI: a command line and YAML config files for a model, a datamodule and every Trainer
/// flag, with Lightning's subcommands, keys and files (docs/cli.md):
///
///     int main(int argc, char** argv) {
///       lightning::LightningCLI<LitModel, MNISTDataModule> cli(argc, argv);
///     }
///
///     ./train fit --trainer.max_epochs 5 --model.lr 0.01 --data.batch_size 64
///     ./train fit --config cfg.yaml --trainer.callbacks EarlyStopping --trainer.callbacks.monitor val_loss
///     ./train fit --config cfg.yaml --print_config > full.yaml
///     ./train test --config full.yaml --ckpt_path best.ckpt
///
/// The model and datamodule declare their arguments (cli/arguments.h); the Trainer's come from its
/// flags. `LightningCLI<LightningModule, ...>` (or `subclass_mode_model`) picks the model by name
/// from the ModelRegistry (`--model mlp`), likewise the datamodule; the default
/// `DataModule = LightningDataModule` means an optional one from the DataModuleRegistry.
#include "lightning/callbacks/callback.h"
#include "lightning/cli/arguments.h"
#include "lightning/cli/registries.h"
#include "lightning/core/datamodule.h"
#include "lightning/core/module.h"
#include "lightning/trainer/trainer.h"

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace lightning {

/// Lightning's `save_config_kwargs`.
struct SaveConfigOptions {
  std::string config_filename = "config.yaml";
  /// Replace a config file that exists already (otherwise the run stops before it starts).
  bool overwrite = false;
  /// Write `<log_dir>/<config_filename>`; false leaves only `save_config` (override it).
  bool save_to_log_dir = true;
};

/// Saves the run's resolved config as `config.yaml` in the log folder when the run starts
/// (Lightning's SaveConfigCallback): refuses to overwrite one from an earlier run unless
/// `overwrite`, writes on rank 0 only, atomically.
class SaveConfigCallback : public Callback {
 public:
  /// `config`: the YAML text to save (what `--print_config` prints).
  explicit SaveConfigCallback(std::string config, SaveConfigOptions options = {});
  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  /// Called on rank 0 once per run after the file is written: save the config elsewhere too.
  virtual void save_config(Trainer& trainer, LightningModule& module, const std::string& stage) {}
  const std::string& config() const { return config_; }
  const SaveConfigOptions& options() const { return options_; }

 private:
  std::string config_;
  SaveConfigOptions options_;
  bool already_saved_ = false;
};

/// `seed_everything_default`: true (a random seed, or PL_GLOBAL_SEED when set), false (no seeding) or a seed.
struct SeedEverything {
  SeedEverything(bool on) : enabled(on) {}
  SeedEverything(int seed) : seed(seed) {}
  SeedEverything(int64_t seed) : seed(seed) {}
  bool enabled = true;
  std::optional<int64_t> seed;
};

class LightningCLICore;

/// The arguments of Lightning's `LightningCLI(...)`, with its defaults.
struct LightningCLIOptions {
  using SaveConfigFactory =
      std::function<std::shared_ptr<SaveConfigCallback>(const std::string& config, const SaveConfigOptions& options)>;
  /// Builds the callback that saves the config; empty: no config.yaml (Lightning's `save_config_callback=None`).
  SaveConfigFactory save_config_callback = [](const std::string& config, const SaveConfigOptions& options) {
    return std::make_shared<SaveConfigCallback>(config, options);
  };
  SaveConfigOptions save_config_kwargs;
  /// The Trainer flags' defaults (shown by --help and --print_config); its callbacks are always added
  /// and not configurable, as Lightning's `trainer_defaults`.
  TrainerOptions trainer_defaults;
  SeedEverything seed_everything_default = true;
  /// Other defaults, as if given first on the command line: `{{"model", "cnn"}, {"data.batch_size", 64}}`
  /// (jsonargparse's `parser.set_defaults`).
  std::vector<std::pair<std::string, cli::Value>> defaults;
  /// Select the model (datamodule) by name from its registry, even when the template argument is a
  /// concrete class (whose type the built object must then have).
  bool subclass_mode_model = false;
  bool subclass_mode_data = false;
  /// false: no subcommand; the classes are built and nothing runs.
  bool run = true;
  /// Beyond Lightning: the subcommand run when the arguments start with none (e.g. "fit", for
  /// command lines older than the subcommands); empty: a subcommand is required, as in Lightning.
  std::string default_subcommand;
  /// Beyond Lightning: a flag without its group (`--max_epochs 2`, `--batch_size 64`) stands for the
  /// one key of that name among trainer, model and data (an error names them when several match).
  bool unprefixed_flags = false;
  std::string description = "Lightning Trainer command line tool";
  /// The program name in --help (default: argv[0]'s file name).
  std::string prog;
  /// Where --help and --print_config write (default: std::cout).
  std::ostream* out = nullptr;
};

namespace cli {

/// Thrown where Python's LightningCLI exits: after --help or --print_config (code 0); the
/// `argc, argv` constructors exit the process with it instead.
class Exit : public std::exception {
 public:
  explicit Exit(int code) : code_(code) {}
  int code() const { return code_; }
  const char* what() const noexcept override { return "LightningCLI exit"; }

 private:
  int code_;
};

/// The model or datamodule group of a LightningCLI (what its template arguments declare).
struct GroupSpec {
  std::string key;  // "model" or "data"
  /// By name from ModelRegistry / DataModuleRegistry, else the one class below (LightningCLIOptions'
  /// subclass_mode_model / subclass_mode_data turn it on too).
  bool subclass_mode = false;
  /// Whether a value is needed (the datamodule of `LightningCLI<M>` is optional).
  bool required = true;
  Arguments arguments;
};

}  // namespace cli

/// What every LightningCLI shares: parsing, config files, --print_config, seeding, building the
/// Trainer and running the subcommand (src/cli/cli.cpp).
class LightningCLICore {
 public:
  virtual ~LightningCLICore();
  LightningCLICore(const LightningCLICore&) = delete;
  LightningCLICore& operator=(const LightningCLICore&) = delete;

  /// "fit", "validate", "test" or "predict" (empty with `run = false`).
  const std::string& subcommand() const;
  /// The resolved config of the run (every key, the seed used): what config.yaml holds.
  const cli::Value& config() const;
  /// `config()` as the YAML text --print_config prints.
  std::string config_yaml() const;
  /// The options the Trainer was built with.
  const TrainerOptions& trainer_options() const;

  std::unique_ptr<Trainer> trainer;
  /// What `validate`/`test` returned, and `predict`'s outputs.
  std::vector<std::map<std::string, double>> results;
  std::vector<std::vector<torch::IValue>> predictions;

 protected:
  LightningCLICore(LightningCLIOptions options, cli::GroupSpec model, cli::GroupSpec data);
  /// Parses the arguments (after the program name); throws cli::Exit after --help/--print_config
  /// and MisconfigurationException for bad input.
  void parse(const std::vector<std::string>& args);
  /// Lightning's `_set_seed`: seeds and records the seed in the config.
  void set_seed();
  /// The selected class of a group (subclass mode) and its init args; `given` false for an absent datamodule.
  bool group_given(const std::string& key) const;
  std::string group_class(const std::string& key) const;
  cli::InitArgs group_init_args(const std::string& key) const;
  void instantiate_trainer();
  using Hook = std::function<void()>;
  void run_subcommand(const std::shared_ptr<LightningModule>& model,
                      const std::shared_ptr<LightningDataModule>& datamodule, const Hook& before, const Hook& after);
  /// For the argc/argv constructors: prints what the current exception says on stderr and exits (0
  /// after --help/--print_config, 2 for bad input, 1 for a run that failed on a checkpoint or a
  /// distributed error); rethrows any other exception.
  [[noreturn]] static void exit_on_error();
  static std::vector<std::string> arguments_of(int argc, char** argv);
  static LightningCLIOptions with_prog(LightningCLIOptions options, int argc, char** argv);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Lightning's LightningCLI. The constructor parses, seeds, builds the model, datamodule and
/// Trainer and runs the subcommand, as Lightning's does; hooks replace Lightning's overridable
/// methods (a C++ base class cannot call a subclass's virtuals from its constructor).
template <typename Model = LightningModule, typename DataModule = LightningDataModule>
class LightningCLI : public LightningCLICore {
  static_assert(std::is_base_of_v<LightningModule, Model>, "Model must derive from lightning::LightningModule");
  static_assert(std::is_base_of_v<LightningDataModule, DataModule>,
                "DataModule must derive from lightning::LightningDataModule");

 public:
  using Hook = std::function<void(LightningCLI&)>;
  /// Lightning's `before_instantiate_classes` and `before_<subcommand>` / `after_<subcommand>`.
  struct Hooks {
    Hook before_instantiate_classes;
    Hook before_fit, after_fit, before_validate, after_validate, before_test, after_test, before_predict, after_predict;
  };

  /// For tests and programs that parse their own way: throws cli::Exit and MisconfigurationException.
  LightningCLI(const std::vector<std::string>& args, LightningCLIOptions options = {}, Hooks hooks = {})
      : LightningCLICore(std::move(options), model_spec(), data_spec()), hooks_(std::move(hooks)) {
    parse(args);
    set_seed();
    if (hooks_.before_instantiate_classes) hooks_.before_instantiate_classes(*this);
    model = build<Model, ModelRegistryFor>("model");
    datamodule = build<DataModule, DataRegistryFor>("data");
    instantiate_trainer();
    if (subcommand().empty()) return;
    const std::pair<Hook, Hook> around = subcommand_hooks();
    run_subcommand(model, datamodule, around.first ? Hook0([&] { around.first(*this); }) : Hook0(),
                   around.second ? Hook0([&] { around.second(*this); }) : Hook0());
  }
  /// The command line: --help, --print_config and bad input end the process with a message and an
  /// exit status, no stack trace (as Python's parser does).
  LightningCLI(int argc, char** argv, LightningCLIOptions options = {}, Hooks hooks = {}) try
      : LightningCLI(arguments_of(argc, argv), with_prog(std::move(options), argc, argv), std::move(hooks)) {
  } catch (...) {
    exit_on_error();
  }

  std::shared_ptr<Model> model;
  /// Null when no datamodule is configured.
  std::shared_ptr<DataModule> datamodule;

 private:
  using Hook0 = std::function<void()>;
  struct ModelRegistryFor {
    static auto& get() { return cli::ModelRegistry::instance(); }
  };
  struct DataRegistryFor {
    static auto& get() { return cli::DataModuleRegistry::instance(); }
  };

  template <typename T, bool IsBase>
  static cli::GroupSpec spec(const char* key, bool optional_when_base) {
    cli::GroupSpec s;
    s.key = key;
    s.subclass_mode = IsBase;  // or LightningCLIOptions::subclass_mode_*
    s.required = !(IsBase && optional_when_base);
    if constexpr (!IsBase) cli::ClassRegistry<T>::template declare_arguments<T>(s.arguments);
    return s;
  }
  static constexpr bool model_is_base = std::is_same_v<Model, LightningModule>;
  static constexpr bool data_is_base = std::is_same_v<DataModule, LightningDataModule>;
  static cli::GroupSpec model_spec() { return spec<Model, model_is_base>("model", false); }
  static cli::GroupSpec data_spec() { return spec<DataModule, data_is_base>("data", true); }

  template <typename T, typename Registry>
  std::shared_ptr<T> build(const std::string& key) {
    if (!group_given(key)) return nullptr;
    const std::string name = group_class(key);
    if (name.empty()) {
      if constexpr (std::is_constructible_v<T, const cli::InitArgs&> || std::is_default_constructible_v<T>)
        return cli::ClassRegistry<T>::template construct<T>(group_init_args(key));
      else
        throw MisconfigurationException(key + ": this LightningCLI's " + key +
                                        " type has neither a constructor taking const cli::InitArgs& nor a default "
                                        "one; accepted: such a constructor, or subclass mode with registered classes");
    }
    auto entry = Registry::get().find(name);
    auto object = std::dynamic_pointer_cast<T>(entry->factory(group_init_args(key)));
    if (!object)
      throw MisconfigurationException(key + " class '" + name +
                                      "' builds an object of another type than this LightningCLI's " + key +
                                      " type; accepted: a registered class derived from it");
    return object;
  }

  std::pair<Hook, Hook> subcommand_hooks() const {
    const auto& s = subcommand();
    if (s == "fit") return {hooks_.before_fit, hooks_.after_fit};
    if (s == "validate") return {hooks_.before_validate, hooks_.after_validate};
    if (s == "test") return {hooks_.before_test, hooks_.after_test};
    return {hooks_.before_predict, hooks_.after_predict};
  }

  Hooks hooks_;
};

}  // namespace lightning
