#pragma once
/// CSVLogger: `metrics.csv` and `hparams.yaml` in `save_dir/name/version_N`, as Lightning's.
///
///     using namespace lightning::loggers;
///     auto csv = std::make_shared<CSVLogger>("logs", CSVLoggerOptions{.flush_logs_every_n_steps = 10});
#include "lightning/loggers/logger.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace lightning::loggers {

/// Options of CSVLogger, with Lightning's names and defaults.
struct CSVLoggerOptions {
  std::string name = "lightning_logs";
  /// Unset: the next free `version_N` under save_dir/name.
  std::optional<LoggerVersion> version;
  /// Put before every metric key, joined with "-".
  std::string prefix;
  /// Rows are written to disk every N steps (and whenever the Trainer calls `save()`).
  int64_t flush_logs_every_n_steps = 100;
};

/// Lightning's CSVLogger. `metrics.csv` has one row per `log_metrics` call and the columns
/// `epoch`, `step` and one per metric, sorted; a metric that appears later rewrites the file with
/// the wider header. Files are written by a background thread; `finalize` waits for it.
class CSVLogger : public Logger {
 public:
  explicit CSVLogger(std::string save_dir, CSVLoggerOptions options = {});
  ~CSVLogger() override;

  std::string name() const override;
  std::string version() const override;
  /// save_dir/name.
  std::optional<std::string> root_dir() const override;
  /// save_dir/name/version.
  std::optional<std::string> log_dir() const override;
  std::optional<std::string> save_dir() const override;

  void log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) override;
  void log_hyperparams(const Hyperparameters& params, const std::map<std::string, double>& metrics = {}) override;
  /// Hands pending rows (and hyperparameters) to the writer thread.
  void save() override;
  /// Writes everything pending and waits until it is on disk.
  void finalize(const std::string& status) override;
  /// Waits until everything handed to the writer is on disk.
  void flush();

  /// The path of `metrics.csv`.
  std::string metrics_file_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning::loggers
