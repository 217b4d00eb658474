// Trainer::add_argparse_args / from_argparse_args (Lightning 1.x's argparse utilities) on CLI11.
#include "cli/trainer_flags.h"
#include "cli/values.h"
#include "lightning/trainer/trainer.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace lightning {
namespace {

using cli::detail::TrainerFlag;
using Form = TrainerFlag::Form;

constexpr const char* kGroup = "pl.Trainer";

std::string default_text(const TrainerFlag& f) {
  if (f.form == Form::Classes) return f.name == "logger" ? "true" : "null";
  return cli::detail::yaml_scalar(f.dump(TrainerOptions{}));
}

// A flag given alone (`--enable_progress_bar`): CLI11 records an empty value, which means true.
std::string value_of(const std::string& raw, const TrainerFlag& f) {
  return raw.empty() && f.form == Form::BareTrue ? "true" : raw;
}

// The long name of an option without its dashes ("callbacks.monitor").
std::string long_name(const CLI::Option* op) { return op->get_lnames().empty() ? "" : op->get_lnames().front(); }

[[noreturn]] void throw_unknown(const CLI::App& app, const std::string& token) {
  std::vector<std::string> names;
  for (const CLI::Option* op : app.get_options())
    for (const auto& n : op->get_lnames()) names.push_back(n);
  const bool flag = token.rfind("--", 0) == 0;
  std::string name =
      flag ? token.substr(2, token.find('=') == std::string::npos ? std::string::npos : token.find('=') - 2) : token;
  if (!flag)
    throw MisconfigurationException(
        fmt::format("unexpected argument '{}'; accepted: --FLAG VALUE pairs (--help lists them)", token));
  throw MisconfigurationException(fmt::format("unknown flag --{}{}; accepted: the flags --help lists", name,
                                              cli::detail::did_you_mean(name, names, "--")));
}

}  // namespace

void Trainer::add_argparse_args(CLI::App& app) {
  for (const auto& f : cli::detail::trainer_flags()) {
    CLI::Option* op = app.add_option("--" + f.name);
    op->description(fmt::format("{} (default: {})", f.doc, default_text(f)))->type_name(f.type)->group(kGroup);
    if (f.form == Form::Classes) {
      op->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
      if (f.name == "logger") op->expected(0, 1);
      // CLI11 knows only declared flags: every argument of every class the flag can build.
      for (const auto& arg : cli::detail::class_flag_arguments(f.name))
        app.add_option("--" + f.name + "." + arg)
            ->description(fmt::format("An argument of the last --{} class (each --{} adds one)", f.name, f.name))
            ->type_name("VALUE")
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
            ->group(std::string(kGroup) + " " + f.name + " arguments");
    } else {
      op->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      if (f.form == Form::BareTrue) op->expected(0, 1);
    }
  }
  // Unknown flags are reported by options_from_argparse_args, with the closest names.
  app.allow_extras();
}

TrainerOptions Trainer::options_from_argparse_args(const CLI::App& app, TrainerOptions defaults) {
  for (const auto& token : app.remaining()) throw_unknown(app, token);
  TrainerOptions options = std::move(defaults);
  for (const auto& f : cli::detail::trainer_flags()) {
    if (f.form == Form::Classes) continue;
    const CLI::Option* op = app.get_option_no_throw("--" + f.name);
    if (!op || op->count() == 0) continue;
    const std::string key = "--" + f.name;
    f.apply(options, cli::detail::parse_token(value_of(op->results().back(), f), f.form == Form::StringOnly, key), key);
  }
  // Classes and their arguments in command-line order: `--callbacks.monitor` sets the last callback's.
  // An App parsed before keeps the earlier parses' entries in parse_order() (CLI11 2.3's clear()
  // resets only the results): of each option's entries, the last results().size() are this parse's,
  // so an entry's place among its option's entries, less the earlier parses' count, is its result.
  std::map<const CLI::Option*, size_t> earlier;
  for (const CLI::Option* op : app.parse_order()) ++earlier[op];
  for (auto& [op, n] : earlier) n -= std::min(n, op->results().size());
  for (const char* flag : {"logger", "callbacks", "plugins"}) {
    const std::string key = std::string("--") + flag, prefix = std::string(flag) + ".";
    cli::Value specs;
    bool given = false;
    std::map<const CLI::Option*, size_t> seen;
    for (const CLI::Option* op : app.parse_order()) {
      const std::string name = long_name(op);
      if (name != flag && name.rfind(prefix, 0) != 0) continue;
      const size_t entry = seen[op]++;
      if (entry < earlier[op]) continue;
      const std::string raw = op->results().at(entry - earlier[op]);
      const std::string token_key = "--" + name;
      if (name == flag) {
        cli::Value v = cli::detail::parse_token(raw.empty() ? "true" : raw, false, token_key);
        cli::Value spec = cli::detail::class_flag_spec(flag, v, token_key);
        if (spec.is_bool() || !specs.is_list())
          specs = spec;
        else
          for (auto& s : spec.as_list()) specs.as_list().push_back(std::move(s));
        given = true;
      } else {
        // A string argument takes the token as it is ("{epoch}-{val_loss:.2f}" is no YAML mapping).
        const std::string arg = name.substr(prefix.size());
        auto declared = cli::detail::class_flag_argument(flag, specs, arg);
        const bool string_only = declared && declared->kind == cli::Kind::String;
        cli::detail::set_class_flag_arg(flag, specs, arg, cli::detail::parse_token(raw, string_only, token_key),
                                        token_key);
      }
    }
    if (!given) continue;
    cli::detail::check_class_flag(flag, specs, key);
    cli::detail::apply_classes(options, flag, specs, key);
  }
  return options;
}

std::unique_ptr<Trainer> Trainer::from_argparse_args(const CLI::App& app, TrainerOptions defaults) {
  return std::make_unique<Trainer>(options_from_argparse_args(app, std::move(defaults)));
}

}  // namespace lightning
