#include "lightning/loggers/csv.h"

#include "lightning/utilities/errors.h"
#include "loggers/key_table.h"
#include "loggers/logger_files.h"
#include "loggers/writer_thread.h"
#include "utilities/fs.h"

#include <sys/stat.h>

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

namespace lightning::loggers {
namespace {

constexpr const char* kWho = "CSVLogger";

/// Queued rows: every row's cells in one vector, so that a row costs no allocation once the
/// vectors have grown (they are swapped with the writer thread's and keep their capacity).
struct Rows {
  struct Row {
    size_t begin, end;  // cells of this row, sorted by key (they come from a std::map)
    int64_t step;
  };
  std::vector<std::pair<uint32_t, double>> cells;  // (key id, value)
  std::vector<Row> rows;
  void clear() { cells.clear(), rows.clear(); }
  void swap(Rows& other) { cells.swap(other.cells), rows.swap(other.rows); }
};

void append_int(fmt::memory_buffer& out, int64_t v) {
  const fmt::format_int text(v);
  out.append(text.data(), text.data() + text.size());
}

/// Python's repr of a float, appended to `out` ("0.5", "1.0", "1e-05", "nan", "inf").
void append_python_float(fmt::memory_buffer& out, double v) {
  if (std::isnan(v)) return out.append(std::string_view("nan"));
  if (std::isinf(v)) return out.append(std::string_view(v > 0 ? "inf" : "-inf"));
  const size_t start = out.size();
  fmt::format_to(std::back_inserter(out), FMT_COMPILE("{}"), v);  // compiled: no format parsing per value
  for (size_t i = start; i < out.size(); ++i)
    if (out[i] == '.' || out[i] == 'e') return;
  out.append(std::string_view(".0"));
}

/// Python's csv module quotes a field holding the delimiter, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// Splits one CSV line (fields may be quoted; quoted line breaks are not expected in our files).
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::string join_csv(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
  return line + "\r\n";  // Python's csv writer ends rows with \r\n
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

struct CSVLogger::Impl {
  std::string save_dir;
  CSVLoggerOptions options;
  mutable std::mutex version_mutex;
  mutable std::optional<LoggerVersion> version;

  // Filled on the caller's thread, written by the writer thread.
  std::mutex mutex;
  detail::KeyTable columns;  // the ids of `pending`'s keys
  Rows pending;
  Hyperparameters hparams;
  bool hparams_dirty = false;
  int64_t rows_logged = 0;
  bool started = false;  // the run folder exists and an old metrics.csv was removed

  // Owned by the writer thread.
  std::vector<std::string> keys;  // the file's header, sorted
  std::vector<std::string> column_names;  // `columns`' names, copied under `mutex`
  static constexpr ptrdiff_t kNotInHeader = -1, kNewKey = -2;
  std::vector<ptrdiff_t> column_of;  // by key id: its column in `keys`, or one of the above
  std::string metrics_path, hparams_path;

  std::unique_ptr<detail::WriterThread> writer;

  std::string root() const { return detail::join_path(save_dir, options.name); }

  std::string version_str() const {
    std::lock_guard lock(version_mutex);
    if (!version) version = LoggerVersion(detail::reserve_next_version(root(), kWho));
    return version->str();
  }

  std::string log_dir() const {
    version_str();
    return detail::join_path(root(), version->folder());
  }

  /// Lightning's `experiment`: creates the run folder; a metrics.csv left there is removed.
  void start() {
    if (started) return;
    const std::string dir = log_dir();
    detail::make_dirs(dir, kWho);
    metrics_path = detail::join_path(dir, "metrics.csv");
    hparams_path = detail::join_path(dir, "hparams.yaml");
    if (is_file(metrics_path)) {
      std::cerr << fmt::format(
                       "Experiment logs directory {} exists and is not empty. Previous log files in this directory "
                       "will be deleted when the new ones are saved!",
                       dir)
                << std::endl;
      std::remove(metrics_path.c_str());
    }
    keys.clear();
    hparams_dirty = true;  // Lightning's save() writes hparams.yaml (`{}` when there are none)
    started = true;
    writer = std::make_unique<detail::WriterThread>([this] { drain(); }, std::chrono::hours(24 * 365));
  }

  void append_value(fmt::memory_buffer& out, const std::string& key, double v) const {
    // `epoch` is an int in Lightning's rows; metrics are Python floats.
    if (key == "epoch" && std::isfinite(v) && v == std::floor(v))
      append_int(out, static_cast<int64_t>(v));
    else
      append_python_float(out, v);
  }

  void rewrite_with_header(const std::vector<std::string>& new_keys) {
    std::ifstream in(metrics_path, std::ios::binary);
    std::string line;
    std::vector<std::string> old_keys;
    std::string out = join_csv(new_keys);
    bool header = true;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (header) {
        old_keys = split_csv_line(line);
        header = false;
        continue;
      }
      auto fields = split_csv_line(line);
      std::map<std::string, std::string> row;
      for (size_t i = 0; i < old_keys.size() && i < fields.size(); ++i) row[old_keys[i]] = fields[i];
      std::vector<std::string> values;
      for (const auto& k : new_keys) values.push_back(row.count(k) ? row[k] : "");
      out += join_csv(values);
    }
    in.close();
    write_file(metrics_path, out, "w");
  }

  void write_file(const std::string& path, const std::string& text, const char* mode) {
    const auto fail = [&](int err) {
      throw std::runtime_error(fmt::format("CSVLogger: cannot write '{}': {}", path, std::strerror(err)));
    };
    if (std::strcmp(mode, "w") == 0) {  // a rewrite: the whole file or the old one, never half
      if (const int err = lightning::detail::write_file_atomically(path, text)) fail(err);
      return;
    }
    std::FILE* f = std::fopen(path.c_str(), "ab");
    if (!f) fail(errno);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const int write_err = errno;
    if (std::fclose(f) != 0 || !ok) fail(ok ? errno : write_err);
  }

  Rows spare_rows;              // owned by the writer thread; keeps the queue's capacity
  std::FILE* file = nullptr;    // metrics.csv, open for appending between drains

  void close_file() {
    if (file) std::fclose(file);
    file = nullptr;
  }

  void drain() {
    Rows& queued = spare_rows;
    queued.clear();
    std::optional<Hyperparameters> params;
    {
      std::lock_guard lock(mutex);
      queued.swap(pending);
      columns.copy_new_names(column_names);
      if (hparams_dirty) params = hparams;
      hparams_dirty = false;
    }
    if (params) detail::write_hparams_yaml(hparams_path, *params);
    const auto& rows = queued.rows;
    const auto& cells = queued.cells;
    if (rows.empty()) {
      if (file && std::fflush(file) != 0)
        throw std::runtime_error(fmt::format("CSVLogger: cannot write '{}': {}", metrics_path, std::strerror(errno)));
      return;
    }
    // Lightning's _record_new_keys: the header is every key seen so far, sorted.
    column_of.resize(column_names.size(), kNotInHeader);
    std::vector<std::string> new_keys;
    for (const auto& [id, _] : cells)
      if (column_of[id] == kNotInHeader) {
        column_of[id] = kNewKey;
        new_keys.push_back(column_names[id]);
      }
    if (keys.empty() && std::find(new_keys.begin(), new_keys.end(), "step") == new_keys.end())
      new_keys.push_back("step");
    const bool exists = file != nullptr || is_file(metrics_path);
    fmt::memory_buffer out;
    if (!new_keys.empty()) {
      new_keys.insert(new_keys.end(), keys.begin(), keys.end());
      std::sort(new_keys.begin(), new_keys.end());
      close_file();
      if (exists) rewrite_with_header(new_keys);
      keys = std::move(new_keys);
      for (size_t id = 0; id < column_names.size(); ++id) {
        auto it = std::lower_bound(keys.begin(), keys.end(), column_names[id]);
        column_of[id] = it != keys.end() && *it == column_names[id] ? it - keys.begin() : kNotInHeader;
      }
      if (!exists) {
        const std::string header = join_csv(keys);
        out.append(std::string_view(header));
      }
    }
    if (!file) {
      file = std::fopen(metrics_path.c_str(), "ab");
      if (!file)
        throw std::runtime_error(fmt::format("CSVLogger: cannot write '{}': {}", metrics_path, std::strerror(errno)));
    }
    const auto step_column = std::lower_bound(keys.begin(), keys.end(), "step") - keys.begin();
    std::vector<const std::pair<uint32_t, double>*> row_cells(keys.size(), nullptr);
    for (const auto& r : rows) {
      for (size_t j = r.begin; j < r.end; ++j) row_cells[static_cast<size_t>(column_of[cells[j].first])] = &cells[j];
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i) out.push_back(',');
        if (static_cast<ptrdiff_t>(i) == step_column) {
          append_int(out, r.step);  // Lightning's row: metrics["step"] = step
        } else if (row_cells[i]) {
          append_value(out, keys[i], row_cells[i]->second);
        }
        row_cells[i] = nullptr;
      }
      out.append(std::string_view("\r\n"));  // Python's csv writer ends rows with \r\n
      if (out.size() >= (1u << 16)) {
        if (std::fwrite(out.data(), 1, out.size(), file) != out.size())
          throw std::runtime_error(fmt::format("CSVLogger: cannot write '{}'", metrics_path));
        out.clear();
      }
    }
    if (std::fwrite(out.data(), 1, out.size(), file) != out.size() || std::fflush(file) != 0)
      throw std::runtime_error(fmt::format("CSVLogger: cannot write '{}': {}", metrics_path, std::strerror(errno)));
  }
};

CSVLogger::CSVLogger(std::string save_dir, CSVLoggerOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.flush_logs_every_n_steps < 1)
    throw MisconfigurationException(fmt::format(
        "CSVLogger: flush_logs_every_n_steps={} is invalid; accepted: an int >= 1", options.flush_logs_every_n_steps));
  impl_->save_dir = std::move(save_dir);
  impl_->version = options.version;
  impl_->options = std::move(options);
}

CSVLogger::~CSVLogger() {
  if (impl_->writer) {
    try {
      impl_->writer->stop();
    } catch (const std::exception& e) {
      std::cerr << e.what() << std::endl;
    }
  }
  impl_->close_file();
}

std::string CSVLogger::name() const { return impl_->options.name; }
std::string CSVLogger::version() const { return impl_->version_str(); }
std::optional<std::string> CSVLogger::root_dir() const { return impl_->root(); }
std::optional<std::string> CSVLogger::log_dir() const { return impl_->log_dir(); }
std::optional<std::string> CSVLogger::save_dir() const { return impl_->save_dir; }
std::string CSVLogger::metrics_file_path() const { return detail::join_path(impl_->log_dir(), "metrics.csv"); }

void CSVLogger::log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) {
  impl_->start();
  int64_t s;
  {
    std::lock_guard lock(impl_->mutex);
    s = step.value_or(impl_->rows_logged);
    auto& cells = impl_->pending.cells;
    const size_t begin = cells.size();
    // A "step" cell is left for the drain to drop: Lightning's row has metrics["step"] = step.
    const auto& ids = impl_->columns.ids(metrics, impl_->options.prefix);
    auto id = ids.begin();
    for (const auto& entry : metrics) cells.emplace_back(*id++, entry.second);
    impl_->pending.rows.push_back({begin, cells.size(), s});
    ++impl_->rows_logged;
  }
  if ((s + 1) % impl_->options.flush_logs_every_n_steps == 0) save();
}

void CSVLogger::log_hyperparams(const Hyperparameters& params, const std::map<std::string, double>&) {
  impl_->start();
  std::lock_guard lock(impl_->mutex);
  for (const auto& [k, v] : params) impl_->hparams.set(k, v);
  impl_->hparams_dirty = true;
}

void CSVLogger::save() {
  impl_->start();  // as Lightning's save(): `experiment.save()` creates the run's folder
  impl_->writer->wake();
}

void CSVLogger::flush() {
  if (impl_->writer) impl_->writer->sync();
}

void CSVLogger::finalize(const std::string&) {
  if (!impl_->writer) return;  // nothing was logged: Lightning writes nothing either
  {
    std::lock_guard lock(impl_->mutex);
    impl_->hparams_dirty = true;  // Lightning's save() writes hparams.yaml every time
  }
  impl_->writer->sync();
}

}  // namespace lightning::loggers
