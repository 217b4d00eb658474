#include "lightning_plot/run.h"

#include "loggers/crc32c.h"
#include "utilities/fs.h"

#include "tensorboard.pb.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

namespace lightning::plot {
namespace {

namespace pb = lightning::tensorboard_proto;

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  return text.str();
}

uint64_t little_endian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// Sorts by step; of several values at one step the last one logged wins, as a resumed run's
/// newer row replaces the older one.
Series normalized(Series points) {
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.step < b.step; });
  Series out;
  for (const auto& p : points) {
    if (!out.empty() && out.back().step == p.step)
      out.back() = p;
    else
      out.push_back(p);
  }
  return out;
}

/// The number a scalar summary value holds, if it is one.
std::optional<double> scalar_of(const pb::Summary::Value& value) {
  if (value.value_case() == pb::Summary::Value::kSimpleValue) return value.simple_value();
  if (value.value_case() != pb::Summary::Value::kTensor) return std::nullopt;
  const std::string& plugin = value.metadata().plugin_data().plugin_name();
  if (!plugin.empty() && plugin != "scalars") return std::nullopt;  // text, hparams, ...
  const auto& t = value.tensor();
  if (t.dtype() == pb::DT_FLOAT && t.float_val_size() == 1) return t.float_val(0);
  if (t.dtype() == pb::DT_DOUBLE && t.double_val_size() == 1) return t.double_val(0);
  if (t.dtype() == pb::DT_FLOAT && t.tensor_content().size() == sizeof(float)) {
    float f;
    std::memcpy(&f, t.tensor_content().data(), sizeof f);
    return f;
  }
  if (t.dtype() == pb::DT_DOUBLE && t.tensor_content().size() == sizeof(double)) {
    double d;
    std::memcpy(&d, t.tensor_content().data(), sizeof d);
    return d;
  }
  return std::nullopt;
}

/// Python's csv quoting: a field in double quotes, "" for a quote inside.
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);  // also "nan", "inf", "-inf" as Python writes them
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

/// A value on one line, lists as "[1, 2]" and maps inside them as "{a: 1}".
std::string inline_yaml(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (!node.IsSequence() && !node.IsMap()) return "null";
  std::string out;
  for (const auto& item : node) {
    if (!out.empty()) out += ", ";
    out += node.IsMap() ? item.first.Scalar() + ": " + inline_yaml(item.second) : inline_yaml(item);
  }
  return node.IsMap() ? "{" + out + "}" : "[" + out + "]";
}

/// Nested maps become "a/b" keys, as the TensorBoard logger flattens them.
void flatten_yaml(const std::string& key, const YAML::Node& node,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& entry : node)
      flatten_yaml(key.empty() ? entry.first.Scalar() : key + "/" + entry.first.Scalar(), entry.second, out);
  } else {
    out.emplace_back(key, inline_yaml(node));
  }
}

std::vector<std::pair<std::string, std::string>> read_hparams(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: not valid YAML: {}", path, e.what()));
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (root.IsNull() || (root.IsMap() && root.size() == 0)) return out;  // "{}": no hyperparameters
  if (!root.IsMap())
    throw InputError(fmt::format("{}: expected a mapping of hyperparameter names to values", path));
  flatten_yaml("", root, out);
  return out;
}

std::vector<Checkpoint> list_checkpoints(const std::string& dir) {
  std::vector<Checkpoint> out;
  for (const auto& name : detail::list_dir(dir)) {
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".ckpt") != 0) continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({name, static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec)});
  }
  std::sort(out.begin(), out.end(), [](const Checkpoint& a, const Checkpoint& b) {
    return std::tie(a.mtime_s, a.name) < std::tie(b.mtime_s, b.name);
  });
  return out;
}

/// Event files of the run, sorted (their names start with the creation time). Only the folder
/// itself: with TensorBoardLogger's `sub_dir`, that sub folder is the run's folder.
std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : detail::list_dir(dir))
    if (name.rfind("events.out.tfevents.", 0) == 0) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

/// TensorBoardLogger's placeholder `hp_metric = -1` (default_hp_metric), no measurement.
bool is_placeholder_hp_metric(const std::string& name, const Series& s) {
  return name == "hp_metric" && s.size() == 1 && s.front().value == -1.0;
}

}  // namespace

std::map<std::string, Series> read_event_file(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  std::map<std::string, Series> out;
  pb::Event event;
  // TFRecord framing: uint64 length, masked CRC32C of it, the data, masked CRC32C of the data.
  for (size_t pos = 0; pos < bytes.size();) {
    const char* record = bytes.data() + pos;
    const size_t left = bytes.size() - pos;
    if (left < 12)
      throw InputError(fmt::format("{}: truncated record at byte {}: {} bytes left, a record header has 12", path,
                                   pos, left));
    const uint64_t length = little_endian(record, 8);
    if (little_endian(record + 8, 4) != detail::masked_crc32c(record, 8))
      throw InputError(fmt::format("{}: bad CRC of the record length at byte {}", path, pos));
    if (left < 16 || length > left - 16)
      throw InputError(fmt::format("{}: truncated record at byte {}: {} bytes of data announced, {} left", path, pos,
                                   length, left - 12));
    const char* data = record + 12;
    if (little_endian(data + length, 4) != detail::masked_crc32c(data, length))
      throw InputError(fmt::format("{}: bad CRC of the record data at byte {}", path, pos));
    if (!event.ParseFromArray(data, static_cast<int>(length)))
      throw InputError(fmt::format("{}: the record at byte {} is not a TensorBoard Event", path, pos));
    for (const auto& value : event.summary().value())
      if (auto v = scalar_of(value)) out[value.tag()].push_back({event.step(), *v});
    pos += 12 + length + 4;
  }
  for (auto& [_, series] : out) series = normalized(std::move(series));
  return out;
}

std::map<std::string, Series> read_metrics_csv(const std::string& path) {
  std::istringstream lines(read_whole_file(path));
  std::string line;
  std::vector<std::string> header;
  std::map<std::string, Series> out;
  size_t step_column = 0;
  for (size_t line_no = 1; std::getline(lines, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (header.empty()) {
      header = split_csv_line(line);
      const auto it = std::find(header.begin(), header.end(), "step");
      if (it == header.end())
        throw InputError(fmt::format("{}: the header (line 1) has no 'step' column: '{}'", path, line));
      step_column = static_cast<size_t>(it - header.begin());
      continue;
    }
    if (line.empty()) continue;
    const auto fields = split_csv_line(line);
    if (fields.size() != header.size())
      throw InputError(fmt::format("{}: line {} has {} fields, the header {}", path, line_no, fields.size(),
                                   header.size()));
    const auto step = parse_number(fields[step_column]);
    if (!step || !std::isfinite(*step) || *step != std::floor(*step))
      throw InputError(fmt::format("{}: line {}: step '{}' is not an integer", path, line_no, fields[step_column]));
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i == step_column || fields[i].empty()) continue;  // empty: not logged in this row
      const auto v = parse_number(fields[i]);
      if (!v)
        throw InputError(fmt::format("{}: line {}, column '{}': '{}' is not a number", path, line_no, header[i],
                                     fields[i]));
      out[header[i]].push_back({static_cast<int64_t>(*step), *v});
    }
  }
  if (header.empty()) throw InputError(fmt::format("{}: empty file, no header row", path));
  for (auto& [_, series] : out) series = normalized(std::move(series));
  return out;
}

Run load_run(const std::string& dir) {
  if (!detail::is_directory(dir))
    throw InputError(detail::path_exists(dir) ? fmt::format("{}: not a folder; expected a lightning_logs/version_N folder", dir)
                                              : fmt::format("{}: no such folder", dir));
  const std::string csv = dir + "/metrics.csv";
  const auto events = event_files(dir);
  const bool has_csv = detail::path_exists(csv);
  if (!has_csv && events.empty()) {
    std::vector<std::string> versions;
    for (const auto& name : detail::list_dir(dir))
      if (name.rfind("version_", 0) == 0 && detail::is_directory(dir + "/" + name)) versions.push_back(name);
    std::sort(versions.begin(), versions.end());
    std::string hint;
    if (!versions.empty()) hint = fmt::format(" (it holds {}: pass those folders)", fmt::join(versions, ", "));
    throw InputError(fmt::format("{}: no metrics.csv and no events.out.tfevents.* file{}", dir, hint));
  }
  Run run;
  run.dir = dir;
  if (has_csv) run.sources.push_back("metrics.csv");
  run.sources.insert(run.sources.end(), events.begin(), events.end());
  auto take = [&](std::map<std::string, Series> metrics, const std::string& source) {
    for (auto& [name, series] : metrics) {
      if (name == "epoch") {
        if (run.epoch.empty()) run.epoch = std::move(series);
      } else if (!run.metrics.count(name) && !is_placeholder_hp_metric(name, series)) {
        run.metrics[name] = {std::move(series), source};
      }
    }
  };
  if (has_csv) take(read_metrics_csv(csv), "metrics.csv");  // first: it wins where both have a metric
  // Several event files (a resumed run) make one source: their points merge by step.
  std::map<std::string, Series> from_events;
  for (const auto& file : events)
    for (auto& [tag, series] : read_event_file(dir + "/" + file))
      from_events[tag].insert(from_events[tag].end(), series.begin(), series.end());
  for (auto& [_, series] : from_events) series = normalized(std::move(series));
  if (!events.empty())
    take(std::move(from_events), events.size() == 1 ? events.front() : fmt::format("events.out.tfevents.* ({} files)", events.size()));
  if (run.metrics.empty())
    throw InputError(fmt::format("{}: no metrics logged in {}", dir,
                                 has_csv ? (events.empty() ? "metrics.csv" : "metrics.csv or the event files")
                                         : (events.size() == 1 ? events.front() : "the event files")));
  if (detail::path_exists(dir + "/hparams.yaml")) run.hparams = read_hparams(dir + "/hparams.yaml");
  run.checkpoints = list_checkpoints(dir + "/checkpoints");
  return run;
}

std::vector<std::string> unique_labels(const std::vector<std::string>& dirs) {
  std::vector<std::vector<std::string>> parts;
  for (const auto& dir : dirs) {
    std::vector<std::string> p;
    std::stringstream in(dir);
    for (std::string part; std::getline(in, part, '/');)
      if (!part.empty() && part != ".") p.push_back(part);
    if (p.empty()) p.push_back(dir);
    parts.push_back(std::move(p));
  }
  auto label = [&](size_t i, size_t depth) {
    const auto& p = parts[i];
    const size_t from = p.size() > depth ? p.size() - depth : 0;
    std::string out;
    for (size_t j = from; j < p.size(); ++j) out += (out.empty() ? "" : "/") + p[j];
    return out;
  };
  std::vector<std::string> out(dirs.size());
  size_t max_depth = 1;
  for (const auto& p : parts) max_depth = std::max(max_depth, p.size());
  for (size_t i = 0; i < dirs.size(); ++i) {
    for (size_t depth = 1; depth <= max_depth; ++depth) {
      out[i] = label(i, depth);
      bool unique = true;
      for (size_t j = 0; j < dirs.size() && unique; ++j) unique = j == i || label(j, depth) != out[i];
      if (unique) break;
    }
  }
  // The same folder given twice: number the repeats.
  const auto base = out;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto repeat = std::count(base.begin(), base.begin() + static_cast<ptrdiff_t>(i), base[i]);
    if (repeat > 0) out[i] += fmt::format(" ({})", repeat + 1);
  }
  return out;
}

}  // namespace lightning::plot
