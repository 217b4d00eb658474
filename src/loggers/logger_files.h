#pragma once
// What TensorBoardLogger and CSVLogger share: folders and versions (POSIX calls only, see
// docs/internals.md), Lightning's hyperparameter flattening and `hparams.yaml`, number formatting.
#include "lightning/core/hyperparameters.h"
#include "lightning/loggers/logger.h"

#include <map>
#include <optional>
#include <string>

namespace lightning::detail {

/// `a` + "/" + `b`, skipping empty parts.
std::string join_path(const std::string& a, const std::string& b);
/// mkdir -p; throws MisconfigurationException naming the folder (and why) when it cannot.
void make_dirs(const std::string& path, const std::string& who);
/// The next free `version_N` under `root`, reserved by creating its folder: mkdir is atomic, so
/// two runs starting at once get different versions.
int64_t reserve_next_version(const std::string& root, const std::string& who);

/// Python's `repr` of a float ("0.5", "1.0", "1e-05", "nan", "inf", "-inf").
std::string python_float(double v);
/// Python's `str` of the value as Lightning would see it (lists "[1, 2]", strings in lists quoted).
std::string python_str(const c10::IValue& v);

/// Lightning's `_flatten_dict` with "/" (nested dicts become "a/b" keys) and `_sanitize_params`
/// (anything but bool, int, float, string and tensors becomes its string).
std::vector<std::pair<std::string, c10::IValue>> flatten_hparams(const Hyperparameters& params);

/// Writes `hparams.yaml` as Lightning's `save_hparams_to_yaml` (yaml.dump: keys sorted, nested
/// dicts and lists as block collections). Throws std::runtime_error naming the file on failure.
void write_hparams_yaml(const std::string& path, const Hyperparameters& params);

/// Seconds since the Unix epoch, as Python's time.time().
double wall_time_now();

}  // namespace lightning::detail
