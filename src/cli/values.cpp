#include "cli/values.h"

#include "utilities/numbers.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

namespace lightning::cli {

// --- Value ---------------------------------------------------------------------------------

const Value* Value::find(const std::string& key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : as_map())
    if (k == key) return &v;
  return nullptr;
}

Value* Value::find(const std::string& key) { return const_cast<Value*>(static_cast<const Value*>(this)->find(key)); }

Value& Value::operator[](const std::string& key) {
  if (is_null()) data_ = Map{};
  if (Value* v = find(key)) return *v;
  auto& map = as_map();
  map.emplace_back(key, Value());
  return map.back().second;
}

bool Value::operator==(const Value& other) const {
  if (data_.index() != other.data_.index()) return false;
  if (is_list()) {
    const auto &a = as_list(), &b = other.as_list();
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
  if (is_map()) {
    const auto &a = as_map(), &b = other.as_map();
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].first != b[i].first || !(a[i].second == b[i].second)) return false;
    return true;
  }
  if (is_float()) {
    double x = std::get<double>(data_), y = std::get<double>(other.data_);
    return x == y || (std::isnan(x) && std::isnan(y));
  }
  return data_ == other.data_;
}

std::string Value::str() const {
  if (is_string()) {
    std::string out = "'";
    for (char c : as_string()) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }
  if (is_list()) {
    std::vector<std::string> parts;
    for (const auto& e : as_list()) parts.push_back(e.str());
    return fmt::format("[{}]", fmt::join(parts, ", "));
  }
  if (is_map()) {
    std::vector<std::string> parts;
    for (const auto& [k, e] : as_map()) parts.push_back(k + ": " + e.str());
    return fmt::format("{{{}}}", fmt::join(parts, ", "));
  }
  return detail::yaml_scalar(*this);
}

// --- Arguments -----------------------------------------------------------------------------

std::string Argument::type_label() const {
  std::string t;
  switch (kind) {
    case Kind::Any:
      return "ANY";
    case Kind::Bool:
      t = "BOOL";
      break;
    case Kind::Int:
      t = "INT";
      break;
    case Kind::Float:
      t = "FLOAT";
      break;
    case Kind::String:
      t = choices.empty() ? "STR" : fmt::format("{{{}}}", fmt::join(choices, ","));
      break;
    case Kind::IntList:
      t = "[INT, ...]";
      break;
    case Kind::FloatList:
      t = "[FLOAT, ...]";
      break;
    case Kind::StringList:
      t = "[STR, ...]";
      break;
    case Kind::IntMap:
      t = "{INT: INT}";
      break;
  }
  return nullable ? t + "|null" : t;
}

Argument& Arguments::push(Argument a) {
  if (find(a.name))
    throw MisconfigurationException(
        fmt::format("the argument '{}' is declared twice; accepted: one declaration per name", a.name));
  args_.push_back(std::move(a));
  return args_.back();
}

const Value& InitArgs::operator[](const std::string& name) const {
  for (const auto& [k, v] : values_)
    if (k == name) return v;
  std::vector<std::string> names;
  for (const auto& [k, v] : values_) names.push_back("'" + k + "'");
  throw MisconfigurationException(
      fmt::format("InitArgs has no argument '{}'; accepted: {}", name,
                  names.empty() ? "none (nothing was declared)" : fmt::format("{}", fmt::join(names, ", "))));
}

bool InitArgs::contains(const std::string& name) const {
  return std::any_of(values_.begin(), values_.end(), [&](const auto& e) { return e.first == name; });
}

namespace detail {

void throw_bad_get(const std::string& name, const Value& v, const char* type) {
  throw MisconfigurationException(fmt::format(
      "InitArgs::get: '{}' is {}, not a {}; accepted: the type the argument was declared with", name, v.str(), type));
}

int64_t int_key(const std::string& name, const std::string& key) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), out);
  if (ec != std::errc() || end != key.data() + key.size()) throw_bad_get(name, Value(key), "int key");
  return out;
}

}  // namespace detail

namespace detail {
namespace {

// --- YAML in ---------------------------------------------------------------------------------

// Python's float(): out of range is inf or 0, not an error (std::stod throws there).
double to_double(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

// YAML 1.2's core schema for a plain scalar.
Value resolve_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
  if (s == "true" || s == "True" || s == "TRUE") return Value(true);
  if (s == "false" || s == "False" || s == "FALSE") return Value(false);
  static const std::regex decimal("[-+]?[0-9]+"), octal("0o[0-7]+"), hexadecimal("0x[0-9a-fA-F]+"),
      number(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)"), infinity(R"([-+]?\.(inf|Inf|INF))"),
      nan(R"(\.(nan|NaN|NAN))");
  if (std::regex_match(s, decimal)) {
    if (auto out = lightning::detail::parse_integer<int64_t>(s)) return Value(*out);
    return Value(to_double(s));  // beyond int64: a float, as PyYAML's ints become floats in C++
  }
  for (const auto& [pattern, base] : {std::pair{&octal, 8}, std::pair{&hexadecimal, 16}})
    if (std::regex_match(s, *pattern)) {
      if (auto out = lightning::detail::parse_integer<int64_t>(std::string_view(s).substr(2), base)) return Value(*out);
      double big = 0;  // beyond int64, likewise a float
      for (unsigned char c : s.substr(2)) big = big * base + (std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10);
      return Value(big);
    }
  if (std::regex_match(s, number)) return Value(to_double(s));
  if (std::regex_match(s, infinity))
    return Value(s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  if (std::regex_match(s, nan)) return Value(std::numeric_limits<double>::quiet_NaN());
  return Value(s);
}

// Aliases make a YAML document a graph: one that reaches its own anchor would recurse forever,
// and aliases of aliases can expand a few lines into billions of values. Both are refused as
// errors at the alias, before the stack or the memory runs out.
struct NodeWalk {
  const std::string& file;
  std::vector<YAML::Node> path;  // the nodes from the root down to the one being read
  size_t values = 0;
};
constexpr size_t kMaxYamlValues = 100'000;  // a config holds hundreds

Value from_node(const YAML::Node& node, NodeWalk& walk) {
  for (const auto& ancestor : walk.path)
    if (ancestor.is(node))
      throw YAML::Exception(node.Mark(), "an alias refers to a node that contains it (a recursive alias)");
  if (++walk.values > kMaxYamlValues)
    throw YAML::Exception(node.Mark(), fmt::format("the document expands to more than {} values through its aliases",
                                                   kMaxYamlValues));
  const std::string& file = walk.file;
  Value out;
  walk.path.push_back(node);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      break;
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" marks a quoted scalar; "!!str" an explicitly tagged one.
      if (tag == "!" || tag == "tag:yaml.org,2002:str")
        out = Value(node.Scalar());
      else
        out = resolve_plain(node.Scalar());
      break;
    }
    case YAML::NodeType::Sequence: {
      Value::List list;
      for (const auto& e : node) list.push_back(from_node(e, walk));
      out = Value(std::move(list));
      break;
    }
    case YAML::NodeType::Map: {
      Value::Map map;
      for (const auto& e : node) {
        // A null key (`~:`, `null:`, a tagged null) is the string "null" (yaml-cpp's Dump would
        // spell one "~" and another "null"); to_yaml writes it quoted, as the string it now is.
        std::string key = e.first.IsScalar() ? e.first.Scalar() : e.first.IsNull() ? "null" : YAML::Dump(e.first);
        Value v = from_node(e.second, walk);
        if (v.origin.empty() && !file.empty()) v.origin = fmt::format("{}:{}", file, e.first.Mark().line + 1);
        // A later duplicate key wins, as PyYAML's.
        auto it = std::find_if(map.begin(), map.end(), [&](const auto& kv) { return kv.first == key; });
        if (it != map.end())
          it->second = std::move(v);
        else
          map.emplace_back(std::move(key), std::move(v));
      }
      out = Value(std::move(map));
      break;
    }
  }
  walk.path.pop_back();
  if (!file.empty() && !node.Mark().is_null()) out.origin = fmt::format("{}:{}", file, node.Mark().line + 1);
  return out;
}

Value from_document(const YAML::Node& root, const std::string& file) {
  NodeWalk walk{file, {}};
  return from_node(root, walk);
}

}  // namespace

Value parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return from_document(YAML::Load(text), "");
  } catch (const YAML::Exception& e) {
    throw MisconfigurationException(fmt::format("{}={} is invalid: not YAML ({}, column {}); accepted: a YAML value",
                                                origin, Value(text).str(), e.msg, e.mark.column + 1));
  }
}

Value load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw MisconfigurationException(
        fmt::format("config file '{}' cannot be read: {}; accepted: a readable YAML file", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  Value tree;
  try {
    tree = from_document(YAML::Load(text.str()), path);
  } catch (const YAML::Exception& e) {
    const bool syntax = dynamic_cast<const YAML::ParserException*>(&e) != nullptr;
    throw MisconfigurationException(fmt::format("{}:{}:{}: {}: {}; accepted: a YAML mapping", path, e.mark.line + 1,
                                                e.mark.column + 1, syntax ? "YAML syntax error" : "YAML error", e.msg));
  }
  if (tree.is_null()) return Value(Value::Map{});  // an empty file sets nothing
  if (!tree.is_map())
    throw MisconfigurationException(fmt::format(
        "{}: the file holds {}; accepted: a YAML mapping of keys (trainer:, model:, ...)", path, tree.str()));
  return tree;
}

Value parse_token(const std::string& token, bool string_only, const std::string& key) {
  if (string_only) return token == "null" ? Value() : Value(token);
  return parse_yaml(token, key);
}

// --- YAML out --------------------------------------------------------------------------------

std::string yaml_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  std::string s = fmt::format("{}", v);
  // Python's repr keeps a '.', and PyYAML needs one to read the text back as a float.
  if (s.find('.') == std::string::npos) {
    auto e = s.find('e');
    if (e == std::string::npos)
      s += ".0";
    else
      s.insert(e, ".0");
  }
  return s;
}

namespace {

// Whether a string can be written plain: it must read back as the same string in YAML 1.2 and
// in PyYAML's YAML 1.1 (yes/no/on/off, sexagesimal numbers), in block and flow context.
bool plain_safe(const std::string& s) {
  if (s.empty() || !resolve_plain(s).is_string()) return false;
  static const std::regex yaml11(
      "(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])*(\\.[0-9_]*)?|"
      "[-+]?\\.[0-9_]+|[-+]?(inf|nan))");
  if (std::regex_match(s, yaml11)) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-' || c == '+'))
      return false;
  return s[0] != '-' && s[0] != '.';
}

std::string quoted(const std::string& s) {
  bool control = std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (!control) return Value(s).str();
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

// Keys are strings: one that would read back as something else written plain (`Null`, `true`,
// `1`) is quoted, as a string value is, so PyYAML and yaml-cpp both read back the same string.
std::string yaml_key(const std::string& k) { return plain_safe(k) ? k : quoted(k); }

bool is_block(const Value& v) { return (v.is_map() && !v.as_map().empty()) || (v.is_list() && !v.as_list().empty()); }

// YAML limits an implicit key ("key: value") to 1024 characters; yaml-cpp rejects longer ones, so
// a longer key is written in the explicit form ("? key" then ": value"), as PyYAML does for long keys.
constexpr size_t kImplicitKeyLimit = 1000;

void emit(std::string& out, const Value& v, size_t indent) {
  const std::string pad(indent, ' ');
  if (v.is_map()) {
    for (const auto& [k, e] : v.as_map()) {
      const std::string key = yaml_key(k);
      const bool explicit_key = key.size() > kImplicitKeyLimit;
      out += explicit_key ? pad + "? " + key + "\n" + pad + ":" : pad + key + ":";
      if (e.is_map() && is_block(e)) {
        out += "\n";
        emit(out, e, indent + 2);
      } else if (e.is_list() && is_block(e)) {
        out += "\n";
        // PyYAML: a list under an implicit key starts at the key's column
        emit(out, e, explicit_key ? indent + 2 : indent);
      } else {
        out += " " + yaml_scalar(e) + "\n";
      }
    }
    return;
  }
  for (const auto& e : v.as_list()) {
    if (is_block(e)) {
      std::string inner;
      emit(inner, e, indent + 2);
      out += pad + "- " + inner.substr(indent + 2);
    } else {
      out += pad + "- " + yaml_scalar(e) + "\n";
    }
  }
}

}  // namespace

std::string yaml_scalar(const Value& v) {
  if (v.is_null()) return "null";
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_float()) return yaml_float(v.as_number());
  if (v.is_string()) return plain_safe(v.as_string()) ? v.as_string() : quoted(v.as_string());
  if (v.is_list() && v.as_list().empty()) return "[]";
  if (v.is_map() && v.as_map().empty()) return "{}";
  return v.str();
}

std::string to_yaml(const Value& v) {
  if (!is_block(v)) return yaml_scalar(v) + "\n";
  std::string out;
  emit(out, v, 0);
  return out;
}

// --- conversions -----------------------------------------------------------------------------

void throw_invalid(const std::string& key, const Value& v, const std::string& accepted) {
  throw MisconfigurationException(
      fmt::format("{}{}={} is invalid; accepted: {}", v.origin.empty() ? "" : v.origin + ": ", key, v.str(), accepted));
}

std::string accepted_text(const Argument& arg) {
  std::string t;
  switch (arg.kind) {
    case Kind::Any:
      return "any value";
    case Kind::Bool:
      t = "true or false";
      break;
    case Kind::Int:
      t = "an int";
      break;
    case Kind::Float:
      t = "a float";
      break;
    case Kind::String:
      if (arg.choices.empty()) {
        t = "a string";
      } else {
        std::vector<std::string> q;
        for (const auto& c : arg.choices) q.push_back("'" + c + "'");
        t = fmt::format("one of {}", fmt::join(q, ", "));
      }
      break;
    case Kind::IntList:
      t = "a list of ints, e.g. [0, 1]";
      break;
    case Kind::FloatList:
      t = "a list of floats, e.g. [0.1, 0.2]";
      break;
    case Kind::StringList:
      t = "a list of strings, e.g. [a, b]";
      break;
    case Kind::IntMap:
      t = "a mapping of ints to ints, e.g. {0: 1, 5: 3}";
      break;
  }
  return arg.nullable ? t + ", or null" : t;
}

std::optional<bool> bool_of(const Value& v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_int() && (v.as_int() == 0 || v.as_int() == 1)) return v.as_int() == 1;
  if (!v.is_string()) return std::nullopt;
  std::string s = v.as_string();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "y" || s == "yes" || s == "t" || s == "true" || s == "on" || s == "1") return true;
  if (s == "n" || s == "no" || s == "f" || s == "false" || s == "off" || s == "0") return false;
  return std::nullopt;
}

Value convert(const Argument& arg, const Value& v, const std::string& key) {
  auto fail = [&]() -> Value { throw_invalid(key, v, accepted_text(arg)); };
  auto keep_origin = [&](Value out) {
    out.origin = v.origin;
    return out;
  };
  if (arg.kind == Kind::Any) return v;
  if (v.is_null()) return arg.nullable ? v : fail();
  switch (arg.kind) {
    case Kind::Any:
      return v;
    case Kind::Bool: {
      auto b = bool_of(v);
      return b ? keep_origin(Value(*b)) : fail();
    }
    case Kind::Int:
      return v.is_int() ? v : fail();
    case Kind::Float:
      return v.is_int() || v.is_float() ? keep_origin(Value(v.as_number())) : fail();
    case Kind::String: {
      // A scalar for a string argument is its text (`version: 1`, `name: 2024`).
      if (v.is_list() || v.is_map()) return fail();
      Value s = v.is_string() ? v : keep_origin(Value(yaml_scalar(v)));
      if (!arg.choices.empty() && std::find(arg.choices.begin(), arg.choices.end(), s.as_string()) == arg.choices.end())
        return fail();
      return s;
    }
    case Kind::IntList:
    case Kind::FloatList:
    case Kind::StringList: {
      if (!v.is_list()) return fail();
      Argument element;
      element.kind = arg.kind == Kind::IntList ? Kind::Int : arg.kind == Kind::FloatList ? Kind::Float : Kind::String;
      Value::List out;
      for (const auto& e : v.as_list()) {
        if (e.is_list() || e.is_map() || e.is_null()) return fail();
        if ((element.kind == Kind::Int && !e.is_int()) || (element.kind == Kind::Float && !e.is_int() && !e.is_float()))
          return fail();
        out.push_back(convert(element, e, key));
      }
      return keep_origin(Value(std::move(out)));
    }
    case Kind::IntMap: {
      if (!v.is_map()) return fail();
      for (const auto& [k, e] : v.as_map()) {
        if (!e.is_int() || !resolve_plain(k).is_int()) return fail();
      }
      return v;
    }
  }
  return fail();
}

// --- suggestions -----------------------------------------------------------------------------

namespace {

// Levenshtein distance, or limit + 1 once it is sure to exceed limit: a long mistyped key (or a
// fuzzer's) against every flag name costs no more than the lengths' difference check.
size_t edit_distance(const std::string& a, const std::string& b, size_t limit) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) return limit + 1;
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    size_t row_min = row[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
      row_min = std::min(row_min, row[j]);
    }
    if (row_min > limit) return limit + 1;  // a row's minimum never decreases further down
  }
  return std::min(row[b.size()], limit + 1);
}

std::string leaf(const std::string& s) {
  auto dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(dot + 1);
}

}  // namespace

std::vector<std::string> closest(const std::string& name, const std::vector<std::string>& candidates) {
  std::vector<std::pair<size_t, std::string>> scored;
  const std::string name_leaf = leaf(name);
  const size_t limit = std::max<size_t>(2, name_leaf.size() / 3);
  for (const auto& c : candidates) {
    const std::string c_leaf = leaf(c);
    size_t d = std::min(
        {edit_distance(name, c, limit), edit_distance(name, c_leaf, limit), edit_distance(name_leaf, c_leaf, limit)});
    if (d <= limit) scored.emplace_back(d, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [d, c] : scored) {
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    if (out.size() == 3) break;
  }
  return out;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates,
                         const std::string& prefix) {
  auto close = closest(name, candidates);
  if (close.empty()) return "";
  for (auto& c : close) c = "'" + prefix + c + "'";
  if (close.size() == 1) return "; did you mean " + close[0] + "?";
  auto last = close.back();
  close.pop_back();
  return fmt::format("; did you mean {} or {}?", fmt::join(close, ", "), last);
}

}  // namespace detail
}  // namespace lightning::cli
