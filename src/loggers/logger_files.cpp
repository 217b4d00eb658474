#include "loggers/logger_files.h"

#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "utilities/fs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace lightning {

std::string LoggerVersion::str() const {
  if (const auto* n = std::get_if<int64_t>(&value)) return std::to_string(*n);
  return std::get<std::string>(value);
}

std::string LoggerVersion::folder() const {
  if (const auto* n = std::get_if<int64_t>(&value)) return "version_" + std::to_string(*n);
  return std::get<std::string>(value);
}

namespace detail {

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a.back() == '/' ? a + b : a + "/" + b;
}

namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

[[noreturn]] void fail_dir(const std::string& who, const std::string& path, int err) {
  fail_unwritable_folder(who, "log folder", path, err, "save_dir");
}

}  // namespace

void make_dirs(const std::string& path, const std::string& who) {
  if (path.empty() || is_dir(path)) {
    if (!path.empty() && ::access(path.c_str(), W_OK | X_OK) != 0) fail_dir(who, path, errno);
    return;
  }
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) fail_dir(who, prefix, errno);
  }
  if (!is_dir(path)) fail_dir(who, path, ENOTDIR);
  if (::access(path.c_str(), W_OK | X_OK) != 0) fail_dir(who, path, errno);
}

int64_t reserve_next_version(const std::string& root, const std::string& who) {
  // Loggers write from global rank 0 only: the other processes of a run count, and create nothing.
  const bool writer = rank_zero_only_rank() == 0;
  if (writer) make_dirs(root, who);
  int64_t next = 0;
  DIR* dir = ::opendir(root.c_str());
  // A version chosen without seeing the existing ones would skip or reuse them (Lightning's
  // listdir raises here too).
  if (!dir && writer)
    throw MisconfigurationException(fmt::format("{}: cannot list the log folder '{}' to choose the next version: {}; "
                                                "accepted: a save_dir where this process may list, create and write "
                                                "folders",
                                                who, root, std::strerror(errno)));
  if (dir) {
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind("version_", 0) != 0) continue;
      const std::string digits = name.substr(8);
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 18) continue;
      if (!is_dir(join_path(root, name))) continue;
      next = std::max<int64_t>(next, std::stoll(digits) + 1);
    }
    ::closedir(dir);
  }
  if (!writer) return next;
  for (;; ++next) {
    const std::string path = join_path(root, "version_" + std::to_string(next));
    if (::mkdir(path.c_str(), 0777) == 0) return next;
    if (errno != EEXIST) fail_dir(who, path, errno);
  }
}

std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

namespace {

std::string python_repr(const c10::IValue& v);

std::string python_tensor(const at::Tensor& t) {
  if (!t.defined()) return "None";
  auto flat = t.detach().to(at::kCPU).to(at::kDouble).contiguous().view(-1);
  const double* p = flat.data_ptr<double>();
  std::string body;
  for (int64_t i = 0; i < flat.numel(); ++i) body += (i ? ", " : "") + python_float(p[i]);
  return t.dim() == 0 ? fmt::format("tensor({})", body) : fmt::format("tensor([{}])", body);
}

std::string python_repr(const c10::IValue& v) {
  if (v.isString()) {
    std::string s = "'";
    for (char c : v.toStringRef()) s += (c == '\'' ? std::string("\\'") : std::string(1, c));
    return s + "'";
  }
  return python_str(v);
}

}  // namespace

std::string python_str(const c10::IValue& v) {
  if (v.isNone()) return "None";
  if (v.isBool()) return v.toBool() ? "True" : "False";
  if (v.isInt()) return std::to_string(v.toInt());
  if (v.isDouble()) return python_float(v.toDouble());
  if (v.isString()) return v.toStringRef();
  if (v.isTensor()) return python_tensor(v.toTensor());
  if (v.isList()) {
    std::string out = "[";
    bool first = true;
    for (const auto& e : v.toListRef()) out += (std::exchange(first, false) ? "" : ", ") + python_repr(e);
    return out + "]";
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    std::string out = "(";
    for (size_t i = 0; i < elems.size(); ++i) out += (i ? ", " : "") + python_repr(elems[i]);
    return out + (elems.size() == 1 ? ",)" : ")");
  }
  if (v.isGenericDict()) {
    std::string out = "{";
    bool first = true;
    for (const auto& e : v.toGenericDict())
      out += (std::exchange(first, false) ? "" : ", ") + python_repr(e.key()) + ": " + python_repr(e.value());
    return out + "}";
  }
  if (v.isIntList() || v.isDoubleList() || v.isBoolList()) return python_str(c10::IValue(v.toList()));
  return v.tagKind();
}

namespace {

void flatten_into(const std::string& parent, const c10::IValue& value,
                  std::vector<std::pair<std::string, c10::IValue>>& out) {
  if (value.isGenericDict()) {
    for (const auto& e : value.toGenericDict()) {
      const std::string key = e.key().isString() ? e.key().toStringRef() : python_str(e.key());
      flatten_into(parent.empty() ? key : parent + "/" + key, e.value(), out);
    }
    return;
  }
  // Lightning's _sanitize_params: bool, int, float, str and tensors stay, the rest becomes str.
  if (value.isBool() || value.isInt() || value.isDouble() || value.isString() || value.isTensor())
    out.emplace_back(parent, value);
  else
    out.emplace_back(parent, c10::IValue(python_str(value)));
}

void emit_yaml(YAML::Emitter& out, const c10::IValue& v);

bool looks_like_non_string(const std::string& s) {
  if (s.empty()) return true;
  static const char* kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~", "True", "False",
                                 "Yes", "No", "On", "Off", "Null", "NULL", "TRUE", "FALSE", ".nan", ".inf",
                                 "-.inf", ".NaN", ".Inf"};
  for (const char* w : kWords)
    if (s == w) return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

void emit_yaml_scalar_double(YAML::Emitter& out, double d) {
  if (std::isnan(d)) {
    out << ".nan";
  } else if (std::isinf(d)) {
    out << (d > 0 ? ".inf" : "-.inf");
  } else {
    out << python_float(d);
  }
}

void emit_yaml(YAML::Emitter& out, const c10::IValue& v) {
  if (v.isNone()) {
    out << YAML::Null;
  } else if (v.isBool()) {
    out << (v.toBool() ? "true" : "false");
  } else if (v.isInt()) {
    out << std::to_string(v.toInt());
  } else if (v.isDouble()) {
    emit_yaml_scalar_double(out, v.toDouble());
  } else if (v.isString()) {
    const std::string& s = v.toStringRef();
    if (looks_like_non_string(s))
      out << YAML::SingleQuoted << s;
    else
      out << s;
  } else if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (t.defined() && t.numel() == 1) {
      auto d = t.detach().to(at::kCPU).to(at::kDouble).item<double>();
      if (at::isIntegralType(t.scalar_type(), /*includeBool=*/false))
        out << std::to_string(static_cast<int64_t>(d));
      else
        emit_yaml_scalar_double(out, d);
    } else {
      out << python_str(v);
    }
  } else if (v.isList() || v.isIntList() || v.isDoubleList() || v.isBoolList()) {
    out << YAML::BeginSeq;
    for (const auto& e : v.toListRef()) emit_yaml(out, e);
    out << YAML::EndSeq;
  } else if (v.isTuple()) {
    out << YAML::BeginSeq;
    for (const auto& e : v.toTupleRef().elements()) emit_yaml(out, e);
    out << YAML::EndSeq;
  } else if (v.isGenericDict()) {
    std::vector<std::pair<std::string, c10::IValue>> items;
    for (const auto& e : v.toGenericDict())
      items.emplace_back(e.key().isString() ? e.key().toStringRef() : python_str(e.key()), e.value());
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out << YAML::BeginMap;
    for (const auto& [k, e] : items) {
      out << YAML::Key << k << YAML::Value;
      emit_yaml(out, e);
    }
    out << YAML::EndMap;
  } else {
    out << python_str(v);
  }
}

}  // namespace

std::vector<std::pair<std::string, c10::IValue>> flatten_hparams(const Hyperparameters& params) {
  std::vector<std::pair<std::string, c10::IValue>> out;
  for (const auto& [k, v] : params) flatten_into(k, v, out);
  return out;
}

void write_hparams_yaml(const std::string& path, const Hyperparameters& params) {
  std::string text;
  if (params.empty()) {
    text = "{}\n";
  } else {
    std::vector<std::pair<std::string, c10::IValue>> items(params.begin(), params.end());
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    YAML::Emitter out;
    out.SetNullFormat(YAML::LowerNull);  // PyYAML writes null
    out << YAML::BeginMap;
    for (const auto& [k, v] : items) {
      out << YAML::Key << k << YAML::Value;
      emit_yaml(out, v);
    }
    out << YAML::EndMap;
    text = std::string(out.c_str()) + "\n";
  }
  if (const int err = write_file_atomically(path, text))
    throw std::runtime_error(fmt::format("cannot write hyperparameters to '{}': {}", path, std::strerror(err)));
}

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace detail
}  // namespace lightning
