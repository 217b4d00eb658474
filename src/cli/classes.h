#pragma once
// Classes given by name on the command line or in a config file (callbacks, loggers, plugins,
// models and datamodules in subclass mode): Lightning's `{class_path: ..., init_args: {...}}`.
#include "cli/values.h"

#include <fmt/format.h>

namespace lightning::cli::detail {

/// "'ModelCheckpoint', 'EarlyStopping', ..." for messages.
inline std::string quoted_names(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back("'" + n + "'");
  return q.empty() ? "none registered" : fmt::format("{}", fmt::join(q, ", "));
}

/// The entry a class name selects: a registered name, or a dotted class path whose last part is one
/// (`lightning.pytorch.callbacks.EarlyStopping`, as Lightning's own config files spell it).
template <typename Base>
typename ClassRegistry<Base>::Entry resolve_class(const ClassRegistry<Base>& registry, const Value& name,
                                                  const std::string& key) {
  if (name.is_string()) {
    if (auto e = registry.find(name.as_string())) return *e;
    auto dot = name.as_string().rfind('.');
    if (dot != std::string::npos)
      if (auto e = registry.find(name.as_string().substr(dot + 1))) return *e;
  }
  auto names = registry.names();
  std::string hint = name.is_string() ? did_you_mean(name.as_string(), names) : "";
  if (!hint.empty()) hint = hint.substr(2);  // drop "; "
  throw_invalid(key, name,
                fmt::format("{}the name of a registered {} class: {}", hint.empty() ? "" : hint + " ", registry.kind(),
                            quoted_names(names)));
}

/// `spec` (a class name, or a mapping with class_path and init_args) as
/// `{class_path: Name, init_args: {every argument: its value}}`; arguments not given take their
/// defaults (a required one stays null until set).
template <typename Base>
Value class_spec(const ClassRegistry<Base>& registry, const Value& spec, const std::string& key) {
  const Value* class_path = &spec;
  const Value* init_args = nullptr;
  if (spec.is_map()) {
    class_path = spec.find("class_path");
    init_args = spec.find("init_args");
    for (const auto& [k, v] : spec.as_map())
      if (k != "class_path" && k != "init_args")
        throw MisconfigurationException(fmt::format("{}{}: unknown key '{}'{}; accepted: class_path, init_args",
                                                    v.origin.empty() ? "" : v.origin + ": ", key, k,
                                                    did_you_mean(k, {"class_path", "init_args"})));
    if (!class_path)
      throw_invalid(
          key, spec,
          fmt::format("a mapping with a class_path ({}) and optional init_args", quoted_names(registry.names())));
  } else if (!spec.is_string()) {
    throw_invalid(key, spec,
                  fmt::format("a {} class name ({}) or {{class_path: NAME, init_args: {{...}}}}", registry.kind(),
                              quoted_names(registry.names())));
  }
  auto entry = resolve_class(registry, *class_path, key + ".class_path");
  if (init_args && !init_args->is_null() && !init_args->is_map())
    throw_invalid(key + ".init_args", *init_args, "a mapping of argument names to values");
  Value::Map args;
  for (const auto& a : entry.arguments.all()) args.emplace_back(a.name, a.required ? Value() : a.default_value);
  Value out(Value::Map{{"class_path", Value(entry.name)}, {"init_args", Value(std::move(args))}});
  out.origin = spec.origin;
  if (init_args && init_args->is_map())
    for (const auto& [k, v] : init_args->as_map()) {
      const Argument* a = entry.arguments.find(k);
      if (!a)
        throw MisconfigurationException(fmt::format(
            "{}{}: {} has no argument '{}'{}; accepted: {}", v.origin.empty() ? "" : v.origin + ": ", key, entry.name,
            k, did_you_mean(k, entry.arguments.names()), quoted_names(entry.arguments.names())));
      out["init_args"][k] = convert(*a, v, key + "." + k);
    }
  return out;
}

/// Sets the argument `arg` of a canonical spec (`--trainer.callbacks.monitor val_loss`).
template <typename Base>
void set_init_arg(const ClassRegistry<Base>& registry, Value& spec, const std::string& arg, const Value& v,
                  const std::string& key) {
  auto entry = resolve_class(registry, spec["class_path"], key);
  const Argument* a = entry.arguments.find(arg);
  if (!a)
    throw MisconfigurationException(fmt::format("{}: {} has no argument '{}'{}; accepted: {}", key, entry.name, arg,
                                                did_you_mean(arg, entry.arguments.names()),
                                                quoted_names(entry.arguments.names())));
  spec["init_args"][arg] = convert(*a, v, key);
}

/// Throws MisconfigurationException naming the first required argument of a canonical spec that
/// is still unset.
template <typename Base>
void check_required(const ClassRegistry<Base>& registry, const Value& spec, const std::string& key) {
  auto entry = resolve_class(registry, *spec.find("class_path"), key);
  for (const auto& a : entry.arguments.all())
    if (a.required && spec.find("init_args")->find(a.name)->is_null())
      throw MisconfigurationException(fmt::format("{}: {} needs the argument '{}' ({}); accepted: {}", key, entry.name,
                                                  a.name, a.doc, accepted_text(a)));
}

/// The object a canonical spec describes.
template <typename Base>
std::shared_ptr<Base> instantiate(const ClassRegistry<Base>& registry, const Value& spec, const std::string& key) {
  check_required(registry, spec, key);
  auto entry = resolve_class(registry, *spec.find("class_path"), key);
  return entry.factory(InitArgs(spec.find("init_args")->as_map()));
}

}  // namespace lightning::cli::detail
