#pragma once
/// Logger: where logged metrics and hyperparameters go.
#include "lightning/core/hyperparameters.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace torch::nn {
class Module;
}

namespace lightning {

/// A logger's `version`: an int (the run's folder is `version_N`) or a string (the folder's
/// own name). Unset in a logger's options means "the next free `version_N`".
struct LoggerVersion {
  LoggerVersion(int number) : value(static_cast<int64_t>(number)) {}
  LoggerVersion(int64_t number) : value(number) {}
  LoggerVersion(const char* name) : value(std::string(name)) {}
  LoggerVersion(std::string name) : value(std::move(name)) {}
  std::variant<int64_t, std::string> value;
  /// "3" for an int, the string itself otherwise.
  std::string str() const;
  /// "version_3" for an int, the string itself otherwise.
  std::string folder() const;
};

/// Base class of all loggers. The Trainer sends it a row of scalars every
/// `log_every_n_steps` and at epoch ends, `save()` after each row and `finalize` at the end.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual std::string name() const = 0;
  /// "0", "1", ... for auto-incremented versions, or a user's string.
  virtual std::string version() const = 0;
  /// Where this logger's runs live (e.g. save_dir/name); nullopt for loggers without files.
  virtual std::optional<std::string> root_dir() const { return std::nullopt; }
  /// The folder of this run (e.g. save_dir/name/version_N).
  virtual std::optional<std::string> log_dir() const { return std::nullopt; }
  virtual std::optional<std::string> save_dir() const { return std::nullopt; }
  /// What joins a metric group's prefix and a name (Lightning's `group_separator`), e.g. in
  /// DeviceStatsMonitor's `DeviceStatsMonitor.on_train_batch_end/cpu_percent`.
  virtual std::string group_separator() const { return "/"; }
  virtual void log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) = 0;
  /// Empty `metrics` means "none given" (Lightning's `metrics=None`).
  virtual void log_hyperparams(const Hyperparameters& params,
                               const std::map<std::string, double>& metrics = {}) {}
  /// The model's computational graph; a no-op unless a logger supports it.
  virtual void log_graph(torch::nn::Module& model) {}
  virtual void save() {}
  /// `status` is "success", "failed" or "interrupted"... as Lightning passes it.
  virtual void finalize(const std::string& status) {}
  virtual void after_save_checkpoint(const std::string& checkpoint_path) {}
};

/// Lightning's DummyLogger: what `fast_dev_run` puts in place of the configured loggers, so
/// nothing is written; it has no folders (`trainer.log_dir()` is then unset).
class DummyLogger : public Logger {
 public:
  std::string name() const override { return ""; }
  std::string version() const override { return ""; }
  void log_metrics(const std::map<std::string, double>&, std::optional<int64_t>) override {}
};

}  // namespace lightning
