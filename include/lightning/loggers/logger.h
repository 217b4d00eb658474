#pragma once
/// Logger: where logged metrics and hyperparameters go.
#include "lightning/core/hyperparameters.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace lightning {

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
  virtual void log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) = 0;
  virtual void log_hyperparams(const Hyperparameters& params,
                               const std::map<std::string, double>& metrics = {}) {}
  virtual void save() {}
  /// `status` is "success", "failed" or "interrupted"... as Lightning passes it.
  virtual void finalize(const std::string& status) {}
  virtual void after_save_checkpoint(const std::string& checkpoint_path) {}
};

}  // namespace lightning
