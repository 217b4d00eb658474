#include "lightning/cli/cli.h"

#include "lightning/callbacks/registry.h"

#include "cli/classes.h"
#include "cli/trainer_flags.h"
#include "cli/values.h"
#include "lightning/strategies/strategy.h"
#include "lightning/utilities/seed.h"
#include "lightning/version.h"
#include "utilities/fs.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>

namespace lightning {

using cli::Argument;
using cli::Kind;
using cli::Value;
namespace d = cli::detail;
using Form = d::TrainerFlag::Form;

// --- SaveConfigCallback ----------------------------------------------------------------------

SaveConfigCallback::SaveConfigCallback(std::string config, SaveConfigOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}

namespace {

// Temporary file and rename: a crash never leaves a half-written config.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw MisconfigurationException(
          fmt::format("SaveConfigCallback cannot write '{}'; accepted: a log folder this process may write", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw MisconfigurationException(
        fmt::format("SaveConfigCallback cannot write '{}'; accepted: a log folder this process may write", path));
  }
}

}  // namespace

void SaveConfigCallback::setup(Trainer& trainer, LightningModule& module, const std::string& stage) {
  if (already_saved_) return;
  if (options_.save_to_log_dir) {
    const std::string log_dir = trainer.log_dir().value_or(".");
    const std::string path = log_dir + "/" + options_.config_filename;
    if (!options_.overwrite) {
      // Rank 0 decides, so that every process stops or none does.
      bool exists = trainer.is_global_zero() && lightning::detail::path_exists(path);
      exists = trainer.strategy().broadcast(torch::IValue(exists)).toBool();
      if (exists)
        throw MisconfigurationException(fmt::format(
            "SaveConfigCallback expected {} to NOT exist. Aborting to avoid overwriting results of a previous run. "
            "You can delete the previous config file, set `LightningCLIOptions{{.save_config_callback = nullptr}}` to "
            "disable config saving, or set `LightningCLIOptions{{.save_config_kwargs = {{.overwrite = true}}}}` to "
            "overwrite the config file.",
            path));
    }
    if (trainer.is_global_zero()) {
      lightning::detail::make_dirs(log_dir);
      write_atomically(path, config_);
    }
  }
  if (trainer.is_global_zero()) {
    save_config(trainer, module, stage);
    already_saved_ = true;
  }
  already_saved_ = trainer.strategy().broadcast(torch::IValue(already_saved_)).toBool();
}

// --- the parser ------------------------------------------------------------------------------

namespace {

const std::vector<std::string> kSubcommands = {"fit", "validate", "test", "predict"};

// Lightning's subcommand descriptions: the first line of each Trainer method's docstring.
const char* description_of(const std::string& subcommand) {
  if (subcommand == "fit") return "Runs the full optimization routine.";
  if (subcommand == "validate") return "Perform one evaluation epoch over the validation set.";
  if (subcommand == "test") return "Perform one evaluation epoch over the test set.";
  return "Run inference on your data.";
}

Argument argument(std::string name, Kind kind, bool nullable, Value default_value, std::string doc) {
  Argument a;
  a.name = std::move(name);
  a.kind = kind;
  a.nullable = nullable;
  a.default_value = std::move(default_value);
  a.doc = std::move(doc);
  return a;
}

// The arguments of the Trainer method a subcommand runs (Lightning's `add_method_arguments`).
std::vector<Argument> method_arguments(const std::string& subcommand) {
  Argument ckpt = argument("ckpt_path", Kind::String, true, Value(),
                           subcommand == "fit" ? "Resume from this checkpoint: a path, 'last' or 'hpc'"
                                               : "Load these weights first: a path, 'best', 'last' or 'hpc'");
  if (subcommand == "fit") return {ckpt};
  if (subcommand == "predict")
    return {argument("return_predictions", Kind::Bool, false, Value(true), "Keep and return the predictions"), ckpt};
  return {ckpt, argument("verbose", Kind::Bool, false, Value(true), "Print the results")};
}

const Argument kSeedArgument =
    argument("seed_everything", Kind::Any, false, Value(true),
             "Set to an int to run seed_everything with this value before classes instantiation; true: a random seed");

struct Assignment {
  std::string key;      // the full dotted key
  std::string display;  // the flag as typed, for messages
  std::string raw;
  bool append = false;  // `+=`
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  return fmt::format("{}", fmt::join(parts, sep));
}

}  // namespace

struct LightningCLICore::Impl {
  LightningCLIOptions options;
  cli::GroupSpec model, data;
  std::string subcommand;
  Value config;
  Value trainer_defaults;  // the trainer: section before any input
  TrainerOptions trainer_options;
  /// seed_everything and the arguments of the subcommand's Trainer method.
  std::vector<Argument> top_args;
  bool print_config = false;
  /// `--print_config=skip_null`: leave out the keys whose value is null (jsonargparse's option).
  bool skip_null = false;

  std::ostream& out() const { return options.out ? *options.out : std::cout; }
  std::string prog() const { return options.prog.empty() ? "lightning" : options.prog; }
  /// The program and subcommand, for "`fit_mnist fit --help` lists them".
  std::string command() const { return subcommand.empty() ? prog() : prog() + " " + subcommand; }
  std::vector<Argument> methods() const {
    return subcommand.empty() ? std::vector<Argument>{} : method_arguments(subcommand);
  }

  const cli::GroupSpec& group(const std::string& key) const { return key == "model" ? model : data; }

  template <typename F>
  decltype(auto) with_group_registry(const std::string& key, F&& f) const {
    if (key == "model") return f(cli::ModelRegistry::instance());
    return f(cli::DataModuleRegistry::instance());
  }

  // The arguments of a group's current class (fixed class, or the class selected by name).
  std::optional<cli::Arguments> group_arguments(const std::string& key) const {
    const cli::GroupSpec& g = group(key);
    if (!g.subclass_mode) return g.arguments;
    const Value* v = config.find(key);
    if (!v || v->is_null()) return std::nullopt;
    return with_group_registry(key, [&](const auto& registry) -> std::optional<cli::Arguments> {
      auto e = registry.find(v->find("class_path")->as_string());
      return e ? std::optional(e->arguments) : std::nullopt;
    });
  }
  // Every argument name a group can take (all registered classes in subclass mode).
  std::vector<std::string> group_argument_names(const std::string& key) const {
    const cli::GroupSpec& g = group(key);
    if (!g.subclass_mode) return g.arguments.names();
    return with_group_registry(key, [&](const auto& registry) {
      std::vector<std::string> out;
      for (const auto& name : registry.names()) {
        const auto entry = registry.find(name);  // a copy: keep it alive while iterating
        for (const auto& a : entry->arguments.all())
          if (std::find(out.begin(), out.end(), a.name) == out.end()) out.push_back(a.name);
      }
      return out;
    });
  }
  std::vector<std::string> group_classes(const std::string& key) const {
    return with_group_registry(key, [](const auto& registry) { return registry.names(); });
  }

  // --- defaults ---------------------------------------------------------------------------

  Value group_defaults(const cli::GroupSpec& g) const {
    if (g.subclass_mode) return Value();
    Value::Map args;
    for (const auto& a : g.arguments.all()) args.emplace_back(a.name, a.required ? Value() : a.default_value);
    return Value(std::move(args));
  }

  void build_defaults() {
    const auto& seed = options.seed_everything_default;
    config = Value(Value::Map{});
    config["seed_everything"] = seed.seed ? Value(*seed.seed) : Value(seed.enabled);
    Value trainer(Value::Map{});
    for (const auto& f : d::trainer_flags()) {
      if (f.form != Form::Classes) {
        trainer[f.name] = f.dump(options.trainer_defaults);
      } else if (f.name == "logger") {
        const auto& l = options.trainer_defaults.logger;
        trainer[f.name] = l.loggers.empty() ? Value(l.enabled) : Value();  // objects: as given in code
      } else {
        trainer[f.name] = Value();  // trainer_defaults' callbacks and plugins are always added
      }
    }
    trainer_defaults = trainer;
    config["trainer"] = trainer;
    config["model"] = group_defaults(model);
    config["data"] = group_defaults(data);
    for (const auto& a : methods()) config[a.name] = a.default_value;
    top_args = methods();
    top_args.insert(top_args.begin(), kSeedArgument);
  }

  // --- keys ---------------------------------------------------------------------------------

  const Argument* top_argument(const std::string& name) const {
    for (const auto& a : top_args)
      if (a.name == name) return &a;
    return nullptr;
  }

  std::vector<std::string> all_keys() const {
    std::vector<std::string> keys = {"config", "print_config", "help", kSeedArgument.name};
    for (const auto& f : d::trainer_flags()) keys.push_back("trainer." + f.name);
    for (const char* g : {"model", "data"}) {
      if (group(g).subclass_mode) keys.push_back(g);
      for (const auto& a : group_argument_names(g)) keys.push_back(std::string(g) + "." + a);
    }
    for (const auto& a : methods()) keys.push_back(a.name);
    return keys;
  }

  // Whether `key` names something, possibly an argument of a class chosen later.
  bool known(const std::string& key) const {
    if (top_argument(key) || key == "model" || key == "data") return true;
    auto dot = key.find('.');
    if (dot == std::string::npos) return false;
    const std::string head = key.substr(0, dot), rest = key.substr(dot + 1);
    if (head == "trainer") {
      const auto* f = d::find_trainer_flag(rest.substr(0, rest.find('.')));
      if (!f) return false;
      return rest.find('.') == std::string::npos || f->form == Form::Classes;
    }
    if (head == "model" || head == "data") {
      std::string arg = rest.rfind("init_args.", 0) == 0 ? rest.substr(10) : rest;
      if (arg == "class_path") return group(head).subclass_mode;
      auto names = group_argument_names(head);
      return std::find(names.begin(), names.end(), arg) != names.end();
    }
    return false;
  }

  std::string resolve_key(const std::string& name) const {
    if (known(name)) return name;
    if (options.unprefixed_flags) {
      std::vector<std::string> matches;
      for (const char* g : {"trainer", "model", "data"}) {
        std::string k = std::string(g) + "." + name;
        if (known(k)) matches.push_back(k);
      }
      if (matches.size() == 1) return matches.front();
      if (matches.size() > 1) {
        for (auto& m : matches) m = "--" + m;
        throw MisconfigurationException(
            fmt::format("--{} is ambiguous; accepted: one of {}", name, join(matches, ", ")));
      }
    }
    throw MisconfigurationException(fmt::format("unknown flag --{}{}; accepted: the flags `{} --help` lists", name,
                                                d::did_you_mean(name, all_keys(), "--"), command()));
  }

  // Whether the flag may be given without a value (it then means true).
  bool bare_true(const std::string& key) const {
    if (const Argument* a = top_argument(key)) return a->kind == Kind::Bool;
    if (key.rfind("trainer.", 0) == 0) {
      const auto* f = d::find_trainer_flag(key.substr(8));
      return f && (f->form == Form::BareTrue || f->name == "logger");
    }
    if (auto a = group_argument(key)) return a->kind == Kind::Bool;
    return false;
  }

  // Whether a key's token is taken as it is (a string-only value) rather than read as YAML.
  bool string_only(const std::string& key) const {
    if (const Argument* a = top_argument(key)) return a->kind == Kind::String;
    if (key.rfind("trainer.", 0) == 0) {
      const std::string rest = key.substr(8);
      const auto dot = rest.find('.');
      if (dot == std::string::npos) return d::find_trainer_flag(rest)->form == Form::StringOnly;
      std::string arg = rest.substr(dot + 1);
      if (arg.rfind("init_args.", 0) == 0) arg = arg.substr(10);
      const std::string flag = rest.substr(0, dot);
      auto a = d::class_flag_argument(flag, *config.find("trainer")->find(flag), arg);
      return a && a->kind == Kind::String;
    }
    auto a = group_argument(key);
    return a && a->kind == Kind::String;
  }

  // The declared argument `model.x` / `data.init_args.x` names in the current class (or any class
  // of the registry while none is selected, for the value's form).
  std::optional<Argument> group_argument(const std::string& key) const {
    auto dot = key.find('.');
    if (dot == std::string::npos) return std::nullopt;
    const std::string head = key.substr(0, dot);
    if (head != "model" && head != "data") return std::nullopt;
    std::string arg = key.substr(dot + 1);
    if (arg.rfind("init_args.", 0) == 0) arg = arg.substr(10);
    auto args = group_arguments(head);
    if (!args || !args->find(arg)) return std::nullopt;
    return *args->find(arg);
  }

  // --- setting values -------------------------------------------------------------------------

  void check_trainer_value(const d::TrainerFlag& f, const Value& v, const std::string& key) const {
    TrainerOptions scratch;
    f.apply(scratch, v, key);
  }

  void set_trainer(const std::string& name, const Value& v, const std::string& key, bool append) {
    const auto* f = d::find_trainer_flag(name);
    Value& slot = config["trainer"][name];
    if (f->form != Form::Classes) {
      check_trainer_value(*f, v, key);
      slot = v;
      return;
    }
    Value spec = d::class_flag_spec(name, v, key);
    if (append && spec.is_list() && slot.is_list()) {
      for (auto& s : spec.as_list()) slot.as_list().push_back(std::move(s));
    } else {
      slot = std::move(spec);
    }
  }

  // Selects `name` in a subclass-mode group, keeping the values set for arguments the new class
  // also has.
  void select_class(const std::string& key, const Value& spec, const std::string& display) {
    Value& slot = config[key];
    Value old = slot;
    Value fresh =
        with_group_registry(key, [&](const auto& registry) { return d::class_spec(registry, spec, display); });
    if (old.is_map() && !spec.is_map()) {
      auto old_args = with_group_registry(
          key, [&](const auto& registry) { return registry.find(old.find("class_path")->as_string())->arguments; });
      for (auto& [name, value] : fresh["init_args"].as_map()) {
        const Argument* before = old_args.find(name);
        const Value* given = old.find("init_args")->find(name);
        if (before && given && !(*given == before->default_value)) value = *given;
      }
    }
    slot = std::move(fresh);
  }

  void set_group_arg(const std::string& key, const std::string& arg, const Value& v, const std::string& display) {
    const cli::GroupSpec& g = group(key);
    Value& slot = config[key];
    if (g.subclass_mode && slot.is_null())
      throw MisconfigurationException(
          fmt::format("{}={} sets an argument of the {} class, but none is selected; accepted: --{} NAME first ({})",
                      display, v.str(), key, key, d::quoted_names(group_classes(key))));
    auto args = group_arguments(key);
    const Argument* a = args ? args->find(arg) : nullptr;
    if (!a) {
      auto names = args ? args->names() : std::vector<std::string>{};
      std::string owner =
          g.subclass_mode ? fmt::format("{} class '{}'", key, slot.find("class_path")->as_string()) : key;
      throw MisconfigurationException(fmt::format("{}{}: the {} has no argument '{}'{}; accepted: {}",
                                                  v.origin.empty() ? "" : v.origin + ": ", display, owner, arg,
                                                  d::did_you_mean(arg, names), d::quoted_names(names)));
    }
    Value converted = d::convert(*a, v, display);
    if (g.subclass_mode)
      slot["init_args"][arg] = std::move(converted);
    else
      slot[arg] = std::move(converted);
  }

  // `--model VALUE` or `model:` in a file: a class name or spec (subclass mode), a mapping of
  // arguments, or the path of a YAML file with them (jsonargparse's nested config files).
  void set_group(const std::string& key, const Value& v, const std::string& display) {
    const cli::GroupSpec& g = group(key);
    if (v.is_string()) {
      const bool file = lightning::detail::path_exists(v.as_string());
      if (g.subclass_mode && !file) {
        select_class(key, v, display);
        return;
      }
      if (!file) d::throw_invalid(display, v, "a mapping of its arguments or the path of a YAML file with them");
      set_group(key, d::load_yaml_file(v.as_string()), display);
      return;
    }
    if (g.subclass_mode) {
      if (v.is_null()) {
        config[key] = Value();
        return;
      }
      if (v.is_string() || (v.is_map() && v.find("class_path"))) {
        select_class(key, v, display);
        return;
      }
    }
    if (v.is_null()) return;
    if (!v.is_map()) d::throw_invalid(display, v, "a mapping of its arguments");
    // In subclass mode, a mapping without class_path gives the current class's init_args.
    const Value* args = g.subclass_mode && v.find("init_args") ? v.find("init_args") : &v;
    if (!args->is_map()) d::throw_invalid(display + ".init_args", *args, "a mapping of its arguments");
    for (const auto& [arg, value] : args->as_map()) set_group_arg(key, arg, value, display + "." + arg);
  }

  void set_top(const Argument& a, const Value& v, const std::string& display) {
    Value converted = d::convert(a, v, display);
    if (a.name == kSeedArgument.name && !converted.is_bool() &&
        !(converted.is_int() && converted.as_int() >= 0 && converted.as_int() <= 4294967295LL))
      d::throw_invalid(display, v, "true (a random seed), false (no seeding) or an int in [0, 4294967295]");
    config[a.name] = std::move(converted);
  }

  // --- input ----------------------------------------------------------------------------------

  void merge_file(const std::string& path) {
    Value file = d::load_yaml_file(path);
    for (const auto& [key, v] : file.as_map()) {
      const std::string where = v.origin.empty() ? path : v.origin;
      if (const Argument* a = top_argument(key)) {
        set_top(*a, v, key);
      } else if (key == "trainer") {
        if (v.is_null()) continue;
        if (!v.is_map()) d::throw_invalid("trainer", v, "a mapping of Trainer flags");
        for (const auto& [flag, fv] : v.as_map()) {
          if (!d::find_trainer_flag(flag))
            throw MisconfigurationException(
                fmt::format("{}: unknown key 'trainer.{}'{}; accepted: the Trainer's flags (`{} --help` lists them)",
                            fv.origin.empty() ? path : fv.origin, flag,
                            d::did_you_mean(flag, d::trainer_flag_names(), "trainer."), command()));
          set_trainer(flag, fv, "trainer." + flag, false);
        }
      } else if (key == "model" || key == "data") {
        set_group(key, v, key);
      } else {
        std::vector<std::string> accepted = {kSeedArgument.name, "trainer", "model", "data"};
        for (const auto& a : methods()) accepted.push_back(a.name);
        throw MisconfigurationException(fmt::format("{}: unknown key '{}'{}; accepted: {}", where, key,
                                                    d::did_you_mean(key, accepted), d::quoted_names(accepted)));
      }
    }
  }

  // Sets a key from a value (a parsed token, or LightningCLIOptions::defaults).
  void assign(const std::string& key, const std::string& display, const Value& v, bool append) {
    if (const Argument* top = top_argument(key)) {
      set_top(*top, v, display);
      return;
    }
    const auto dot = key.find('.');
    const std::string head = key.substr(0, dot);
    const std::string rest = dot == std::string::npos ? "" : key.substr(dot + 1);
    if (head == "trainer") {
      const auto rest_dot = rest.find('.');
      const std::string flag = rest.substr(0, rest_dot);
      if (rest_dot == std::string::npos) {
        set_trainer(flag, v, display, append);
        return;
      }
      std::string arg = rest.substr(rest_dot + 1);
      if (arg.rfind("init_args.", 0) == 0) arg = arg.substr(10);
      d::set_class_flag_arg(flag, config["trainer"][flag], arg, v, display);
      return;
    }
    if (rest.empty())
      set_group(head, v, display);
    else if (rest == "class_path")
      select_class(head, v, display);
    else
      set_group_arg(head, rest.rfind("init_args.", 0) == 0 ? rest.substr(10) : rest, v, display);
  }

  void assign(const Assignment& a) {
    assign(a.key, a.display, d::parse_token(a.raw, string_only(a.key), a.display), a.append);
  }

  void finish() {
    for (const char* key : {"model", "data"}) {
      const cli::GroupSpec& g = group(key);
      const Value& v = config[key];
      if (g.subclass_mode) {
        if (v.is_null() && g.required)
          throw MisconfigurationException(
              fmt::format("a {0} class is required; accepted: --{0} NAME (or {0}: NAME in a "
                          "config file) with one of {1}",
                          key, d::quoted_names(group_classes(key))));
        if (!v.is_null()) with_group_registry(key, [&](const auto& registry) { d::check_required(registry, v, key); });
        continue;
      }
      for (const auto& a : g.arguments.all())
        if (a.required && v.find(a.name)->is_null())
          throw MisconfigurationException(
              fmt::format("{0}.{1} is required ({2}); accepted: --{0}.{1} VALUE or {1}: in "
                          "the {0} section of a config file; {3}",
                          key, a.name, a.doc, d::accepted_text(a)));
    }
    for (const char* flag : {"callbacks", "logger", "plugins"})
      d::check_class_flag(flag, config["trainer"][flag], std::string("trainer.") + flag);
  }

  void parse(const std::vector<std::string>& args) {
    size_t i = 0;
    if (options.run) {
      const bool named = !args.empty() && (args[0] == "-h" || args[0] == "--help" || args[0].rfind("-", 0) != 0);
      if (!named && !options.default_subcommand.empty())
        subcommand = options.default_subcommand;
      else if (args.empty())
        throw MisconfigurationException(fmt::format("a subcommand is required; accepted: {} (`{} --help` lists them)",
                                                    d::quoted_names(kSubcommands), prog()));
      if (subcommand.empty()) {
        if (args[0] == "-h" || args[0] == "--help") {
          print_main_help();
          throw cli::Exit(0);
        }
        if (std::find(kSubcommands.begin(), kSubcommands.end(), args[0]) == kSubcommands.end())
          throw MisconfigurationException(fmt::format("'{}' is not a subcommand{}; accepted: {}", args[0],
                                                      d::did_you_mean(args[0], kSubcommands),
                                                      d::quoted_names(kSubcommands)));
        subcommand = args[i++];
      }
      if (std::find(kSubcommands.begin(), kSubcommands.end(), subcommand) == kSubcommands.end())
        throw MisconfigurationException(
            fmt::format("LightningCLIOptions::default_subcommand='{}' is invalid; accepted: {}", subcommand,
                        d::quoted_names(kSubcommands)));
    }
    build_defaults();
    for (const auto& [key, value] : options.defaults) {
      if (!known(key))
        throw MisconfigurationException(
            fmt::format("LightningCLIOptions::defaults has the unknown key '{}'{}; accepted: "
                        "the keys --help lists",
                        key, d::did_you_mean(key, all_keys())));
      assign(key, key, value, false);
    }

    std::vector<std::string> configs;
    std::vector<Assignment> assignments;
    for (; i < args.size(); ++i) {
      const std::string& token = args[i];
      if (token == "-h" || token == "--help") {
        print_help();
        throw cli::Exit(0);
      }
      if (token == "--print_config" || token.rfind("--print_config=", 0) == 0) {
        print_config = true;
        const std::string how = token.size() > 15 ? token.substr(15) : "";
        if (!how.empty() && how != "skip_null")
          throw MisconfigurationException(
              fmt::format("--print_config={} is invalid; accepted: --print_config or --print_config=skip_null", how));
        skip_null = how == "skip_null";
        continue;
      }
      const bool short_config = token == "-c";
      if (!short_config && token.rfind("--", 0) != 0)
        throw MisconfigurationException(fmt::format(
            "unexpected argument '{}'; accepted: --KEY VALUE pairs (`{} --help` lists them)", token, command()));
      std::string name = short_config ? "config" : token.substr(2), raw;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        raw = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      bool append = false;
      if (!name.empty() && name.back() == '+') {
        append = true;
        name.pop_back();
      }
      const std::string display = short_config ? "-c" : "--" + name;
      const std::string key = name == "config" ? name : resolve_key(name);
      if (!has_value) {
        if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0 && args[i + 1] != "-c" && args[i + 1] != "-h") {
          raw = args[++i];
        } else if (key != "config" && bare_true(key)) {
          raw = "true";
        } else {
          throw MisconfigurationException(
              fmt::format("{} expects a value; accepted: {} VALUE or {}=VALUE", display, display, display));
        }
      }
      if (key == "config")
        configs.push_back(raw);
      else
        assignments.push_back({key, display, raw, append});
    }
    // Files in order, then flags in order: a later file overrides an earlier one, a flag any file.
    for (const auto& path : configs) merge_file(path);
    for (const auto& a : assignments) assign(a);
    finish();
    if (print_config) {
      out() << (skip_null ? fmt::format("# lightning=={}\n{}", kVersion, d::to_yaml(without_nulls(config))) : yaml());
      out().flush();
      throw cli::Exit(0);
    }
  }

  static Value without_nulls(const Value& v) {
    if (v.is_list()) {
      Value::List out;
      for (const auto& e : v.as_list()) out.push_back(without_nulls(e));
      return Value(std::move(out));
    }
    if (!v.is_map()) return v;
    Value::Map out;
    for (const auto& [k, e] : v.as_map())
      if (!e.is_null()) out.emplace_back(k, without_nulls(e));
    return Value(std::move(out));
  }

  std::string yaml() const { return fmt::format("# lightning=={}\n{}", kVersion, d::to_yaml(config)); }

  // --- help ---------------------------------------------------------------------------------

  static void line(std::string& out, const std::string& flag, const std::string& doc) {
    constexpr size_t width = 44;
    out += "  " + flag;
    if (flag.size() + 2 >= width)
      out += "\n" + std::string(width, ' ');
    else
      out += std::string(width - flag.size() - 2, ' ');
    out += doc + "\n";
  }

  void print_main_help() const {
    std::string text = fmt::format("usage: {} [-h] {{{}}} ...\n\n{}\n\nsubcommands:\n", prog(), join(kSubcommands, ","),
                                   options.description);
    for (const auto& s : kSubcommands) line(text, s, description_of(s));
    text += fmt::format("\nRun `{} SUBCOMMAND --help` for the flags of a subcommand.\n", prog());
    if (!options.default_subcommand.empty())
      text += fmt::format("Arguments that start with a flag run `{} {} ...`.\n", prog(), options.default_subcommand);
    out() << text;
  }

  void print_help() const {
    std::string text = fmt::format("usage: {} {}[-h] [-c CONFIG] [--print_config] [--KEY VALUE ...]\n\n{}\n\n", prog(),
                                   subcommand.empty() ? "" : subcommand + " ",
                                   subcommand.empty() ? options.description : description_of(subcommand));
    text += "options:\n";
    line(text, "-h, --help", "Show this help message and exit.");
    line(text, "-c, --config CONFIG",
         "A YAML config file; several are applied in order, then the flags (which override them).");
    line(text, "--print_config[=skip_null]",
         "Print the configuration after applying all other arguments and exit (skip_null: without null values).");
    line(text, "--seed_everything BOOL|INT",
         fmt::format("{} (default: {})", kSeedArgument.doc,
                     d::yaml_scalar(config.find("seed_everything") ? *config.find("seed_everything") : Value(true))));
    text += "\ntrainer (flags of the Trainer):\n";
    for (const auto& f : d::trainer_flags()) {
      line(text, "--trainer." + f.name + " " + f.type,
           fmt::format("{} (default: {})", f.doc, d::yaml_scalar(*trainer_defaults.find(f.name))));
      if (f.form == Form::Classes)
        line(text, "--trainer." + f.name + ".ARG VALUE",
             fmt::format("An argument of the last {} ({}); `--trainer.{} NAME` replaces the list, "
                         "`--trainer.{}+=NAME` appends",
                         f.name == "callbacks" ? "callback"
                         : f.name == "plugins" ? "plugin"
                                               : "logger",
                         join(d::class_flag_classes(f.name), ", "), f.name, f.name));
    }
    for (const char* key : {"model", "data"}) {
      const cli::GroupSpec& g = group(key);
      if (g.subclass_mode) {
        text += fmt::format("\n{} (a registered class{}):\n", key, g.required ? "" : ", optional");
        line(text, fmt::format("--{} NAME", key),
             fmt::format("The {} class: {} (default: {})", key, join(group_classes(key), ", "),
                         config.find(key)->is_null() ? "null" : config.find(key)->find("class_path")->as_string()));
        with_group_registry(key, [&](const auto& registry) {
          for (const auto& name : registry.names()) {
            auto e = registry.find(name);
            if (e->arguments.all().empty()) continue;
            text +=
                fmt::format("  arguments of {}{}:\n", name, e->description.empty() ? "" : " (" + e->description + ")");
            for (const auto& a : e->arguments.all())
              line(text, fmt::format("--{}.{} {}", key, a.name, a.type_label()),
                   fmt::format("{} ({})", a.doc,
                               a.required ? "required" : "default: " + d::yaml_scalar(a.default_value)));
          }
        });
      } else {
        text += fmt::format("\n{}:\n", key);
        for (const auto& a : g.arguments.all())
          line(text, fmt::format("--{}.{} {}", key, a.name, a.type_label()),
               fmt::format("{} ({})", a.doc, a.required ? "required" : "default: " + d::yaml_scalar(a.default_value)));
      }
    }
    if (!methods().empty()) {
      text += fmt::format("\n{} arguments:\n", subcommand);
      for (const auto& a : methods())
        line(text, fmt::format("--{} {}", a.name, a.type_label()),
             fmt::format("{} (default: {})", a.doc, d::yaml_scalar(a.default_value)));
    }
    if (options.unprefixed_flags)
      text += "\nA flag may leave out its group (--max_epochs for --trainer.max_epochs) when one key has its name.\n";
    out() << text;
  }
};

// --- LightningCLICore ------------------------------------------------------------------------

LightningCLICore::LightningCLICore(LightningCLIOptions options, cli::GroupSpec model, cli::GroupSpec data)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->model = std::move(model);
  impl_->data = std::move(data);
  impl_->model.subclass_mode = impl_->model.subclass_mode || impl_->options.subclass_mode_model;
  impl_->data.subclass_mode = impl_->data.subclass_mode || impl_->options.subclass_mode_data;
}

LightningCLICore::~LightningCLICore() = default;

const std::string& LightningCLICore::subcommand() const { return impl_->subcommand; }
const cli::Value& LightningCLICore::config() const { return impl_->config; }
std::string LightningCLICore::config_yaml() const { return impl_->yaml(); }
const TrainerOptions& LightningCLICore::trainer_options() const { return impl_->trainer_options; }

void LightningCLICore::parse(const std::vector<std::string>& args) { impl_->parse(args); }

void LightningCLICore::set_seed() {
  Value& seed = impl_->config["seed_everything"];
  if (seed.is_bool() && !seed.as_bool()) return;
  int64_t value;
  if (seed.is_int()) {
    value = seed.as_int();
  } else {
    // Lightning's seed_everything(None): PL_GLOBAL_SEED (which a DDP launcher passes to its
    // processes), else a random seed.
    const char* env = std::getenv("PL_GLOBAL_SEED");
    char* end = nullptr;
    long long from_env = env ? std::strtoll(env, &end, 10) : -1;
    if (env && *env && end && *end == '\0' && from_env >= 0) {
      value = from_env;
    } else {
      std::random_device device;
      value = std::uniform_int_distribution<int64_t>(0, 4294967295LL)(device);
    }
  }
  seed_everything(static_cast<uint64_t>(value), /*workers=*/true);
  seed = Value(value);
}

bool LightningCLICore::group_given(const std::string& key) const { return !impl_->config[key].is_null(); }

std::string LightningCLICore::group_class(const std::string& key) const {
  if (!impl_->group(key).subclass_mode) return "";
  return impl_->config.find(key)->find("class_path")->as_string();
}

cli::InitArgs LightningCLICore::group_init_args(const std::string& key) const {
  const Value& v = *impl_->config.find(key);
  return cli::InitArgs(impl_->group(key).subclass_mode ? v.find("init_args")->as_map() : v.as_map());
}

void LightningCLICore::instantiate_trainer() {
  Impl& m = *impl_;
  TrainerOptions options = m.options.trainer_defaults;
  const Value& section = *m.config.find("trainer");
  // Flags left at their defaults keep trainer_defaults' fields (objects included).
  for (const auto& f : d::trainer_flags()) {
    const Value& v = *section.find(f.name);
    if (f.form != Form::Classes && !(v == *m.trainer_defaults.find(f.name))) f.apply(options, v, "trainer." + f.name);
  }
  for (const char* flag : {"callbacks", "plugins", "logger"}) {
    const Value& v = *section.find(flag);
    if (!(v == *m.trainer_defaults.find(flag))) d::apply_classes(options, flag, v, std::string("trainer.") + flag);
  }
  const Value& fast_dev_run = *section.find("fast_dev_run");
  const bool debugging = !(fast_dev_run.is_null() || (fast_dev_run.is_bool() && !fast_dev_run.as_bool()) ||
                           (fast_dev_run.is_int() && fast_dev_run.as_int() == 0));
  if (m.options.save_config_callback && !debugging)
    options.callbacks.push_back(m.options.save_config_callback(m.yaml(), m.options.save_config_kwargs));
  m.trainer_options = options;
  trainer = std::make_unique<Trainer>(std::move(options));
}

void LightningCLICore::run_subcommand(const std::shared_ptr<LightningModule>& model,
                                      const std::shared_ptr<LightningDataModule>& datamodule, const Hook& before,
                                      const Hook& after) {
  const Value& config = impl_->config;
  const Value& ckpt = *config.find("ckpt_path");
  const std::optional<std::string> ckpt_path = ckpt.is_null() ? std::nullopt : std::optional(ckpt.as_string());
  if (before) before();
  const std::string& s = impl_->subcommand;
  if (s == "fit") {
    if (datamodule)
      trainer->fit(model, datamodule, ckpt_path);
    else
      trainer->fit(model, std::nullopt, {}, ckpt_path);
  } else if (s == "validate" || s == "test") {
    const bool verbose = config.find("verbose")->as_bool();
    if (s == "validate")
      results = datamodule ? trainer->validate(model, datamodule, ckpt_path, verbose)
                           : trainer->validate(model, DataLoaders{}, ckpt_path, verbose);
    else
      results = datamodule ? trainer->test(model, datamodule, ckpt_path, verbose)
                           : trainer->test(model, DataLoaders{}, ckpt_path, verbose);
  } else {
    const bool keep = config.find("return_predictions")->as_bool();
    predictions = datamodule ? trainer->predict(model, datamodule, keep, ckpt_path)
                             : trainer->predict(model, DataLoaders{}, keep, ckpt_path);
  }
  if (after) after();
}

void LightningCLICore::exit_on_error() {
  try {
    throw;
  } catch (const cli::Exit& e) {
    std::cout.flush();
    std::exit(e.code());
  } catch (const MisconfigurationException& e) {
    std::cerr << "error: " << e.what() << std::endl;
    std::exit(2);
  } catch (const CheckpointError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    std::exit(1);
  } catch (const DistributedError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    std::exit(1);
  }
}

std::vector<std::string> LightningCLICore::arguments_of(int argc, char** argv) {
  return argc > 1 ? std::vector<std::string>(argv + 1, argv + argc) : std::vector<std::string>{};
}

LightningCLIOptions LightningCLICore::with_prog(LightningCLIOptions options, int argc, char** argv) {
  if (options.prog.empty() && argc > 0 && argv[0]) {
    std::string p = argv[0];
    options.prog = p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1);
  }
  return options;
}

}  // namespace lightning
