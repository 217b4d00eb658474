#pragma once
/// What a class (a model, a datamodule, a callback, a logger) tells the command line about its
/// constructor, and the values it is then built from. Lightning reads both off Python
/// signatures; C++ declares them:
///
///     struct LitModel : lightning::LightningModule {
///       static void add_arguments(lightning::cli::Arguments& args) {
///         args.add("hidden", 64, "Width of the hidden layer");
///         args.add("lr", 1e-3, "Learning rate");
///         args.add<std::optional<std::string>>("init", std::nullopt, "Weights to start from");
///       }
///       explicit LitModel(const lightning::cli::InitArgs& args)
///           : LitModel(args.get<int64_t>("hidden"), args.get<double>("lr")) {}
///     };
///
/// `--model.hidden 128` on the command line, or `model: {hidden: 128}` in a config file, then
/// builds `LitModel` with hidden = 128 and lr = 0.001 (LightningCLI, cli/cli.h).
#include "lightning/utilities/errors.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace lightning::cli {

/// A value of a config file or a command-line flag, as YAML has them: null, a bool, an int, a
/// float, a string, a list or a mapping (keys in the order given).
class Value {
 public:
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool v) : data_(v) {}
  Value(int v) : data_(static_cast<int64_t>(v)) {}
  Value(int64_t v) : data_(v) {}
  Value(double v) : data_(v) {}
  Value(const char* v) : data_(std::string(v)) {}
  Value(std::string v) : data_(std::move(v)) {}
  Value(List v) : data_(std::move(v)) {}
  Value(Map v) : data_(std::move(v)) {}

  bool is_null() const { return data_.index() == 0; }
  bool is_bool() const { return std::holds_alternative<bool>(data_); }
  bool is_int() const { return std::holds_alternative<int64_t>(data_); }
  bool is_float() const { return std::holds_alternative<double>(data_); }
  bool is_string() const { return std::holds_alternative<std::string>(data_); }
  bool is_list() const { return std::holds_alternative<List>(data_); }
  bool is_map() const { return std::holds_alternative<Map>(data_); }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  /// An int or a float, as a double.
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const List& as_list() const { return std::get<List>(data_); }
  List& as_list() { return std::get<List>(data_); }
  const Map& as_map() const { return std::get<Map>(data_); }
  Map& as_map() { return std::get<Map>(data_); }

  /// The entry `key` of a mapping, or nullptr (also for values that are not mappings).
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  /// The entry `key` of a mapping, appended (null) when missing; a null value becomes a mapping.
  Value& operator[](const std::string& key);

  /// Same type and contents (`origin` is not compared; 1 and 1.0 differ, as they do for the Trainer).
  bool operator==(const Value& other) const;

  /// In YAML's flow style with every string quoted, for messages: `'auto'`, `3`, `0.25`, `[0, 1]`,
  /// `{5: 3, 10: 20}`.
  std::string str() const;

  /// Where the value came from, for messages: `cfg.yaml:3` for a config file's, empty otherwise.
  std::string origin;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, List, Map> data_;
};

/// The types an argument can declare.
enum class Kind { Any, Bool, Int, Float, String, IntList, FloatList, StringList, IntMap };

/// One constructor argument: its name, type, default and one line of doc.
struct Argument {
  std::string name;
  Kind kind = Kind::Any;
  /// null is accepted (a `std::optional` argument).
  bool nullable = false;
  /// No default: a value must be given.
  bool required = false;
  Value default_value;
  std::string doc;
  /// When not empty: the only strings accepted.
  std::vector<std::string> choices;

  /// Restricts a string argument to `accepted` (`args.add("arch", "cnn", "...").only({"cnn", "mlp"})`).
  Argument& only(std::vector<std::string> accepted) {
    choices = std::move(accepted);
    return *this;
  }
  /// The type as --help shows it: `INT`, `FLOAT`, `STR`, `BOOL`, `[INT, ...]`, `{INT: INT}`, `ANY`,
  /// followed by `|null` when nullable.
  std::string type_label() const;
};

namespace detail {
template <typename T>
struct ArgumentType;
template <>
struct ArgumentType<bool> {
  static constexpr Kind kind = Kind::Bool;
};
template <>
struct ArgumentType<int> {
  static constexpr Kind kind = Kind::Int;
};
template <>
struct ArgumentType<int64_t> {
  static constexpr Kind kind = Kind::Int;
};
template <>
struct ArgumentType<double> {
  static constexpr Kind kind = Kind::Float;
};
template <>
struct ArgumentType<float> {
  static constexpr Kind kind = Kind::Float;
};
template <>
struct ArgumentType<std::string> {
  static constexpr Kind kind = Kind::String;
};
template <>
struct ArgumentType<const char*> {
  static constexpr Kind kind = Kind::String;
};
template <>
struct ArgumentType<std::vector<int64_t>> {
  static constexpr Kind kind = Kind::IntList;
};
template <>
struct ArgumentType<std::vector<int>> {
  static constexpr Kind kind = Kind::IntList;
};
template <>
struct ArgumentType<std::vector<double>> {
  static constexpr Kind kind = Kind::FloatList;
};
template <>
struct ArgumentType<std::vector<std::string>> {
  static constexpr Kind kind = Kind::StringList;
};
template <>
struct ArgumentType<std::map<int, int>> {
  static constexpr Kind kind = Kind::IntMap;
};
template <>
struct ArgumentType<std::map<int64_t, int64_t>> {
  static constexpr Kind kind = Kind::IntMap;
};
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};
template <typename T>
struct is_map : std::false_type {};
template <typename K, typename V>
struct is_map<std::map<K, V>> : std::true_type {};

template <typename T>
Value to_value(const T& v) {
  if constexpr (is_optional<T>::value) {
    return v ? to_value(*v) : Value();
  } else if constexpr (std::is_same_v<T, bool>) {
    return Value(v);
  } else if constexpr (std::is_integral_v<T>) {
    return Value(static_cast<int64_t>(v));
  } else if constexpr (std::is_floating_point_v<T>) {
    return Value(static_cast<double>(v));
  } else if constexpr (is_vector<T>::value) {
    Value::List out;
    for (const auto& e : v) out.push_back(to_value(e));
    return Value(std::move(out));
  } else if constexpr (is_map<T>::value) {
    Value::Map out;
    for (const auto& [k, e] : v) out.emplace_back(std::to_string(k), to_value(e));
    return Value(std::move(out));
  } else {
    return Value(std::string(v));
  }
}

/// Throws MisconfigurationException: `name`'s value is not a `type`.
[[noreturn]] void throw_bad_get(const std::string& name, const Value& v, const char* type);
/// The int a mapping key spells; throws like throw_bad_get.
int64_t int_key(const std::string& name, const std::string& key);

template <typename T>
T from_value(const std::string& name, const Value& v) {
  if constexpr (is_optional<T>::value) {
    if (v.is_null()) return std::nullopt;
    return from_value<typename T::value_type>(name, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) throw_bad_get(name, v, "bool");
    return v.as_bool();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_int()) throw_bad_get(name, v, "int");
    return static_cast<T>(v.as_int());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_int() && !v.is_float()) throw_bad_get(name, v, "float");
    return static_cast<T>(v.as_number());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) throw_bad_get(name, v, "string");
    return v.as_string();
  } else if constexpr (is_vector<T>::value) {
    if (!v.is_list()) throw_bad_get(name, v, "list");
    T out;
    for (const auto& e : v.as_list()) out.push_back(from_value<typename T::value_type>(name, e));
    return out;
  } else {
    static_assert(is_map<T>::value, "InitArgs::get: unsupported type");
    if (!v.is_map()) throw_bad_get(name, v, "mapping");
    T out;
    for (const auto& [k, e] : v.as_map()) {
      using K = typename T::key_type;
      if constexpr (std::is_integral_v<K>)
        out.emplace(static_cast<K>(int_key(name, k)), from_value<typename T::mapped_type>(name, e));
      else
        out.emplace(k, from_value<typename T::mapped_type>(name, e));
    }
    return out;
  }
}
}  // namespace detail

/// The arguments a class declares, in order.
class Arguments {
 public:
  /// An argument with a default; its type is the default's (`std::optional<T>` accepts null).
  template <typename T>
  Argument& add(std::string name, T default_value, std::string doc) {
    using U = std::remove_cv_t<T>;
    Argument a;
    a.name = std::move(name);
    if constexpr (detail::is_optional<U>::value) {
      a.kind = detail::ArgumentType<typename U::value_type>::kind;
      a.nullable = true;
    } else {
      a.kind = detail::ArgumentType<U>::kind;
    }
    a.default_value = detail::to_value(default_value);
    a.doc = std::move(doc);
    return push(std::move(a));
  }
  /// An argument without a default: every config must give it.
  template <typename T>
  Argument& add_required(std::string name, std::string doc) {
    Argument a;
    a.name = std::move(name);
    a.kind = detail::ArgumentType<T>::kind;
    a.required = true;
    a.doc = std::move(doc);
    return push(std::move(a));
  }
  /// An argument that takes any value (the class checks it), e.g. an int or a string.
  Argument& add_any(std::string name, Value default_value, std::string doc) {
    Argument a;
    a.name = std::move(name);
    a.kind = Kind::Any;
    a.nullable = true;
    a.default_value = std::move(default_value);
    a.doc = std::move(doc);
    return push(std::move(a));
  }
  const std::vector<Argument>& all() const { return args_; }
  const Argument* find(const std::string& name) const {
    for (const auto& a : args_)
      if (a.name == name) return &a;
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& a : args_) out.push_back(a.name);
    return out;
  }

 private:
  /// Throws MisconfigurationException when the name is taken.
  Argument& push(Argument a);
  std::vector<Argument> args_;
};

/// The values a class is built from: every declared argument, converted to its declared type.
class InitArgs {
 public:
  InitArgs() = default;
  explicit InitArgs(Value::Map values) : values_(std::move(values)) {}
  /// The value of `name` as `T` (bool, an integer, a floating point type, std::string, std::optional,
  /// std::vector or std::map of those); throws MisconfigurationException for an undeclared name.
  template <typename T>
  T get(const std::string& name) const {
    return detail::from_value<T>(name, (*this)[name]);
  }
  const Value& operator[](const std::string& name) const;
  bool contains(const std::string& name) const;
  const Value::Map& values() const { return values_; }

 private:
  Value::Map values_;
};

/// Classes selectable by name (`--trainer.callbacks EarlyStopping`, `class_path: EarlyStopping`),
/// each with its declared arguments and a factory (Lightning's `CALLBACK_REGISTRY`,
/// `MODEL_REGISTRY`, ... of 1.x, and jsonargparse's subclass resolution). Thread-safe.
template <typename Base>
class ClassRegistry {
 public:
  using Declare = std::function<void(Arguments&)>;
  using Factory = std::function<std::shared_ptr<Base>(const InitArgs&)>;
  struct Entry {
    std::string name;
    std::string description;
    Arguments arguments;
    Factory factory;
  };

  /// Throws MisconfigurationException when `name` is taken (unless `override`) or the factory is empty.
  void register_class(const std::string& name, const Declare& declare, Factory factory,
                      const std::string& description = "", bool override = false) {
    Entry e{name, description, {}, std::move(factory)};
    if (declare) declare(e.arguments);
    add(std::move(e), override);
  }
  /// `T::add_arguments(Arguments&)` declares the arguments (optional) and `T(const InitArgs&)` builds
  /// it (or `T()` when it declares none).
  template <typename T>
  void register_class(const std::string& name, const std::string& description = "", bool override = false) {
    register_class(
        name, [](Arguments& a) { declare_arguments<T>(a); },
        [](const InitArgs& args) -> std::shared_ptr<Base> { return construct<T>(args); }, description, override);
  }
  bool contains(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return entries_.count(name) > 0;
  }
  /// The entry of `name` (a copy), or nullopt.
  std::optional<Entry> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void remove(const std::string& name) {
    std::lock_guard lock(mutex_);
    entries_.erase(name);
  }
  /// The registered names, sorted.
  std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) out.push_back(name);
    return out;
  }
  /// What the registry holds, in messages: "callback", "logger", "model", ...
  const std::string& kind() const { return kind_; }

  template <typename T>
  static void declare_arguments(Arguments& a) {
    if constexpr (requires { T::add_arguments(a); }) T::add_arguments(a);
  }
  template <typename T>
  static std::shared_ptr<T> construct(const InitArgs& args) {
    if constexpr (std::is_constructible_v<T, const InitArgs&>) {
      return std::make_shared<T>(args);
    } else {
      static_assert(std::is_default_constructible_v<T>,
                    "a class built from the command line needs a constructor taking const cli::InitArgs& "
                    "(or a default constructor when it declares no arguments)");
      return std::make_shared<T>();
    }
  }

 protected:
  explicit ClassRegistry(std::string kind) : kind_(std::move(kind)) {}

 private:
  void add(Entry e, bool override) {
    if (e.name.empty() || !e.factory)
      throw MisconfigurationException("cannot register the " + kind_ + " class '" + e.name +
                                      "': " + (e.name.empty() ? "the name is empty" : "the factory is empty") +
                                      "; accepted: a new name with a factory");
    std::lock_guard lock(mutex_);
    if (entries_.count(e.name) && !override)
      throw MisconfigurationException("cannot register the " + kind_ + " class '" + e.name +
                                      "': it is already registered; accepted: a new name, or override=true");
    auto name = e.name;
    entries_[name] = std::move(e);
  }
  std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace lightning::cli
