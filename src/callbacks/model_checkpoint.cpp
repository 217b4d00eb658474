#include "lightning/callbacks/model_checkpoint.h"

#include "lightning/loggers/logger.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "utilities/fs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <regex>
#include <tuple>

namespace lightning {
namespace {

bool file_exists(Trainer& trainer, const std::string& path) {
  return trainer.strategy().broadcast(detail::path_exists(path)).toBool();
}

std::string py_repr(const std::optional<std::string>& s) { return s ? fmt::format("'{}'", *s) : "None"; }

/// Python's repr of a datetime.timedelta (Lightning puts it in the state key).
std::string timedelta_repr(const std::optional<std::chrono::duration<double>>& d) {
  if (!d) return "None";
  const auto total_us = static_cast<int64_t>(std::llround(d->count() * 1e6));
  const int64_t days = total_us / 86400000000LL, seconds = total_us / 1000000 % 86400, us = total_us % 1000000;
  std::vector<std::string> parts;
  if (days) parts.push_back(fmt::format("days={}", days));
  if (seconds) parts.push_back(fmt::format("seconds={}", seconds));
  if (us) parts.push_back(fmt::format("microseconds={}", us));
  return parts.empty() ? "datetime.timedelta(0)" : fmt::format("datetime.timedelta({})", fmt::join(parts, ", "));
}

/// Scores are float32 0-dim tensors, as Lightning's (`torch.tensor(...)` of a logged value).
torch::Tensor scalar(double v) { return torch::tensor(v, torch::kFloat32); }

c10::IValue tensor_or_none(const torch::Tensor& t) { return t.defined() ? c10::IValue(t) : c10::IValue(); }
torch::Tensor tensor_from(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor();
  if (v.isDouble()) return scalar(v.toDouble());
  if (v.isInt()) return scalar(static_cast<double>(v.toInt()));
  return {};
}
std::string string_from(const c10::IValue& v) { return v.isString() ? v.toStringRef() : std::string(); }

}  // namespace

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  if (o.mode != "min" && o.mode != "max")
    throw MisconfigurationException(
        fmt::format("ModelCheckpoint: mode='{}' is invalid; accepted: 'min', 'max'", o.mode));
  kth_value = scalar(o.mode == "min" ? std::numeric_limits<double>::infinity()
                                     : -std::numeric_limits<double>::infinity());
  if (!o.every_n_train_steps && !o.every_n_epochs && !o.train_time_interval) {
    every_n_epochs_ = 1;
    every_n_train_steps_ = 0;
  } else {
    every_n_epochs_ = o.every_n_epochs.value_or(0);
    every_n_train_steps_ = o.every_n_train_steps.value_or(0);
  }
  if (o.save_top_k < -1)
    throw MisconfigurationException(
        fmt::format("ModelCheckpoint: save_top_k={} is invalid; accepted: -1 (all), 0 (none) or k >= 1", o.save_top_k));
  if (every_n_train_steps_ < 0)
    throw MisconfigurationException(fmt::format(
        "ModelCheckpoint: every_n_train_steps={} is invalid; accepted: an integer >= 0", every_n_train_steps_));
  if (every_n_epochs_ < 0)
    throw MisconfigurationException(
        fmt::format("ModelCheckpoint: every_n_epochs={} is invalid; accepted: an integer >= 0", every_n_epochs_));
  if (o.train_time_interval && o.train_time_interval->count() <= 0)
    throw MisconfigurationException(fmt::format(
        "ModelCheckpoint: train_time_interval={}s is invalid; accepted: a positive duration",
        o.train_time_interval->count()));
  const int triggers = (every_n_train_steps_ >= 1) + (every_n_epochs_ >= 1) + (o.train_time_interval ? 1 : 0);
  if (triggers > 1)
    throw MisconfigurationException(fmt::format(
        "ModelCheckpoint: every_n_train_steps={}, every_n_epochs={} and train_time_interval={} are given together; "
        "accepted: at most one of them (they are mutually exclusive)",
        every_n_train_steps_, every_n_epochs_, timedelta_repr(o.train_time_interval)));
  if (!o.monitor && o.save_top_k != -1 && o.save_top_k != 0 && o.save_top_k != 1)
    throw MisconfigurationException(fmt::format(
        "ModelCheckpoint(save_top_k={}, monitor=None) is not a valid configuration: no quantity for top_k to track; "
        "accepted: a monitor, or save_top_k -1, 0 or 1",
        o.save_top_k));
  if (o.dirpath && detail::path_exists(*o.dirpath) && !detail::is_directory(*o.dirpath))
    throw MisconfigurationException(
        fmt::format("ModelCheckpoint: dirpath='{}' is a file; accepted: a folder (existing or not)", *o.dirpath));
  dirpath_ = o.dirpath;
}

std::string ModelCheckpoint::state_key() const {
  return fmt::format(
      "ModelCheckpoint{{'monitor': {}, 'mode': '{}', 'every_n_train_steps': {}, 'every_n_epochs': {}, "
      "'train_time_interval': {}}}",
      py_repr(options_.monitor), options_.mode, every_n_train_steps_, every_n_epochs_,
      timedelta_repr(options_.train_time_interval));
}

// --- hooks ------------------------------------------------------------------------------------

void ModelCheckpoint::setup(Trainer& trainer, LightningModule&, const std::string& stage) {
  if (!dirpath_) {
    const auto logger = trainer.logger();
    const auto log_dir = logger ? logger->log_dir() : std::nullopt;
    // Rank 0's: the other processes' loggers may count versions differently (Lightning broadcasts it too).
    dirpath_ = trainer.strategy().broadcast((log_dir ? *log_dir : trainer.default_root_dir()) + "/checkpoints").toStringRef();
  }
  if (trainer.is_global_zero() && stage == "fit" && options_.save_top_k != 0 && !detail::list_dir(*dirpath_).empty())
    std::cerr << fmt::format("Checkpoint directory {} exists and is not empty.", *dirpath_) << std::endl;
}

void ModelCheckpoint::on_train_start(Trainer&, LightningModule&) {
  last_time_checked_ = std::chrono::steady_clock::now();
}

void ModelCheckpoint::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, const Batch&, int64_t) {
  if (should_skip_saving_checkpoint(trainer)) return;
  const bool skip_batch = every_n_train_steps_ < 1 || trainer.global_step() % every_n_train_steps_ != 0;
  bool skip_time = true;
  const auto now = std::chrono::steady_clock::now();
  if (options_.train_time_interval)
    skip_time = !last_time_checked_ ||
                std::chrono::duration<double>(now - *last_time_checked_) < *options_.train_time_interval;
  if (skip_batch && skip_time) return;
  if (!skip_time) last_time_checked_ = now;
  auto candidates = monitor_candidates(trainer);
  save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (should_skip_saving_checkpoint(trainer) || !should_save_on_train_epoch_end(trainer)) return;
  auto candidates = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0)
    save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::on_validation_end(Trainer& trainer, LightningModule&) {
  if (should_skip_saving_checkpoint(trainer) || should_save_on_train_epoch_end(trainer)) return;
  auto candidates = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0)
    save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

bool ModelCheckpoint::should_skip_saving_checkpoint(Trainer& trainer) const {
  return trainer.fast_dev_run() > 0 || trainer.state().fn != TrainerFn::Fitting || trainer.sanity_checking() ||
         last_global_step_saved_ == trainer.global_step();
}

bool ModelCheckpoint::should_save_on_train_epoch_end(Trainer& trainer) const {
  if (options_.save_on_train_epoch_end) return *options_.save_on_train_epoch_end;
  // Validation every few epochs: it is unknown when it runs, so do not save at every epoch end.
  if (trainer.check_val_every_n_epoch() != 1) return false;
  int64_t val_batches = 0;
  for (auto n : trainer.num_val_batches()) val_batches += n;
  if (!trainer.enable_validation() || val_batches == 0) return true;
  // Validation several times per epoch: save after validation instead.
  return trainer.val_check_interval().is_fraction_one();
}

std::map<std::string, torch::Tensor> ModelCheckpoint::monitor_candidates(Trainer& trainer) const {
  auto candidates = trainer.callback_metrics();
  auto epoch = candidates.find("epoch");
  candidates["epoch"] = epoch != candidates.end() ? epoch->second.to(torch::kInt64)
                                                  : torch::tensor(trainer.current_epoch(), torch::kInt64);
  auto step = candidates.find("step");
  candidates["step"] =
      step != candidates.end() ? step->second.to(torch::kInt64) : torch::tensor(trainer.global_step(), torch::kInt64);
  return candidates;
}

// --- saving -----------------------------------------------------------------------------------

void ModelCheckpoint::save_topk_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates) {
  if (options_.save_top_k == 0) return;
  if (!options_.monitor) return save_none_monitor_checkpoint(trainer, candidates);
  if (!candidates.count(*options_.monitor)) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : candidates) keys.push_back("'" + k + "'");
    const auto message = fmt::format(
        "ModelCheckpoint(monitor='{0}') could not find the monitored key in the returned metrics: [{1}]. HINT: Did "
        "you call log('{0}', value) in the LightningModule?",
        *options_.monitor, fmt::join(keys, ", "));
    if (trainer.validation_has_run()) throw MisconfigurationException(message);
    rank_zero_info(message);
  }
  save_monitor_checkpoint(trainer, candidates);
}

void ModelCheckpoint::save_none_monitor_checkpoint(Trainer& trainer,
                                                   const std::map<std::string, torch::Tensor>& candidates) {
  const auto filepath = checkpoint_path(trainer, candidates, std::nullopt, best_model_path);
  // The best path is part of the saved state: set it first (and back if the save fails).
  auto previous = std::exchange(best_model_path, filepath);
  try {
    save_checkpoint(trainer, filepath);
  } catch (...) {
    best_model_path = previous;
    throw;
  }
  if (options_.save_top_k == 1 && !previous.empty() && previous != filepath) remove_checkpoint(trainer, previous);
}

void ModelCheckpoint::save_monitor_checkpoint(Trainer& trainer,
                                              const std::map<std::string, torch::Tensor>& candidates) {
  auto it = candidates.find(*options_.monitor);
  torch::Tensor current = it == candidates.end() ? torch::Tensor() : it->second;
  if (current.defined() && check_monitor_top_k(trainer, current)) {
    update_best_and_save(current, trainer, candidates);
  } else if (options_.verbose) {
    rank_zero_info(fmt::format("Epoch {}, global step {}: '{}' was not in top {}",
                               candidates.at("epoch").item<int64_t>(), candidates.at("step").item<int64_t>(),
                               *options_.monitor, options_.save_top_k));
  }
}

bool ModelCheckpoint::check_monitor_top_k(Trainer& trainer, const torch::Tensor& current) const {
  if (options_.save_top_k == -1) return true;
  if (static_cast<int64_t>(best_k_models.size()) < options_.save_top_k) return true;
  const double value = current.item<double>();
  const double kth = best_k_models.at(kth_best_model_path).item<double>();
  // All processes must agree, or one would wait in the save's barrier for the others.
  return trainer.strategy().reduce_boolean_decision(options_.mode == "min" ? value < kth : value > kth);
}

void ModelCheckpoint::update_best_and_save(const torch::Tensor& value, Trainer& trainer,
                                           const std::map<std::string, torch::Tensor>& candidates) {
  const int64_t k = options_.save_top_k == -1 ? static_cast<int64_t>(best_k_models.size()) + 1 : options_.save_top_k;
  // A save that fails (a full disk) changes nothing: the state names only files that exist.
  auto before = std::make_tuple(best_k_models, kth_best_model_path, kth_value, best_model_path, best_model_score,
                                current_score);
  std::string del_filepath;
  if (static_cast<int64_t>(best_k_models.size()) == k && k > 0) {
    del_filepath = kth_best_model_path;
    best_k_models.erase(del_filepath);
  }
  // NaN never counts as better: store it as the worst value.
  auto current = value.detach().to(torch::kCPU).to(torch::kFloat32).reshape({});
  if (std::isnan(current.item<double>()))
    current = scalar(options_.mode == "min" ? std::numeric_limits<double>::infinity()
                                            : -std::numeric_limits<double>::infinity());
  const auto filepath = checkpoint_path(trainer, candidates, std::nullopt, del_filepath);
  current_score = current;
  best_k_models[filepath] = current;
  auto less = [](const auto& a, const auto& b) { return a.second.template item<double>() < b.second.template item<double>(); };
  const bool min_mode = options_.mode == "min";
  if (static_cast<int64_t>(best_k_models.size()) == k) {
    auto kth = min_mode ? std::max_element(best_k_models.begin(), best_k_models.end(), less)
                        : std::min_element(best_k_models.begin(), best_k_models.end(), less);
    kth_best_model_path = kth->first;
    kth_value = kth->second;
  }
  auto best = min_mode ? std::min_element(best_k_models.begin(), best_k_models.end(), less)
                       : std::max_element(best_k_models.begin(), best_k_models.end(), less);
  best_model_path = best->first;
  best_model_score = best->second;
  if (options_.verbose)
    rank_zero_info(fmt::format(
        "Epoch {}, global step {}: '{}' reached {:.5f} (best {:.5f}), saving model to '{}' as top {}",
        candidates.at("epoch").item<int64_t>(), candidates.at("step").item<int64_t>(), *options_.monitor,
        current.item<double>(), best_model_score.item<double>(), filepath, k));
  try {
    save_checkpoint(trainer, filepath);
  } catch (...) {
    std::tie(best_k_models, kth_best_model_path, kth_value, best_model_path, best_model_score, current_score) =
        std::move(before);
    throw;
  }
  // The new file is complete (atomic save) before the one it replaces goes.
  if (!del_filepath.empty() && del_filepath != filepath) remove_checkpoint(trainer, del_filepath);
}

void ModelCheckpoint::save_last_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates) {
  if (!options_.save_last) return;
  const auto filepath = checkpoint_path(trainer, candidates, std::string(CHECKPOINT_NAME_LAST), last_model_path);
  auto previous = std::exchange(last_model_path, filepath);
  try {
    save_checkpoint(trainer, filepath);
  } catch (...) {
    last_model_path = previous;
    throw;
  }
  if (!previous.empty() && previous != filepath) remove_checkpoint(trainer, previous);
}

std::string ModelCheckpoint::checkpoint_path(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates,
                                             const std::optional<std::string>& filename,
                                             const std::string& del_filepath) const {
  auto filepath = format_checkpoint_name(candidates, filename);
  if (options_.enable_version_counter)
    // Rank 0's view of the folder, as Lightning's `file_exists`: every rank picks the same name.
    for (int64_t version = 1; file_exists(trainer, filepath) && filepath != del_filepath; ++version)
      filepath = format_checkpoint_name(candidates, filename, version);
  return filepath;
}

void ModelCheckpoint::save_checkpoint(Trainer& trainer, const std::string& filepath) {
  trainer.save_checkpoint(filepath, options_.save_weights_only);
  last_global_step_saved_ = trainer.global_step();
  last_checkpoint_saved_ = filepath;
  if (trainer.is_global_zero())
    for (const auto& logger : trainer.loggers()) logger->after_save_checkpoint(filepath);
}

void ModelCheckpoint::remove_checkpoint(Trainer& trainer, const std::string& filepath) {
  // Never remove the checkpoint this run resumed from, nor files outside our folder.
  if (trainer.ckpt_path() && *trainer.ckpt_path() == filepath) return;
  if (!dirpath_ || filepath.rfind(*dirpath_ + "/", 0) != 0) return;
  trainer.strategy().remove_checkpoint(filepath);  // global zero only
}

// --- names --------------------------------------------------------------------------------------

std::string ModelCheckpoint::format_checkpoint_name(const std::map<std::string, torch::Tensor>& metrics,
                                                    const std::optional<std::string>& filename,
                                                    std::optional<int64_t> version) const {
  std::string name = filename ? *filename : options_.filename.value_or("{epoch}-{step}");
  // Each "{key}" or "{key:spec}" becomes "key=value" (auto_insert_metric_name) or "value".
  static const std::regex group(R"(\{([^:{}]+)(:[^{}]*)?\})");
  std::string out;
  auto begin = std::sregex_iterator(name.begin(), name.end(), group);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += name.substr(last, static_cast<size_t>(m.position()) - last);
    last = static_cast<size_t>(m.position() + m.length());
    const std::string key = m[1].str();
    const std::string spec = m[2].matched ? m[2].str() : ":";
    // Missing keys format as 0, as in Lightning; values format like Python's `format`.
    auto found = metrics.find(key);
    const bool present = found != metrics.end() && found->second.defined() && found->second.numel() == 1;
    const bool integral = !present || !found->second.is_floating_point();
    const double value = present ? found->second.item<double>() : 0.0;
    std::string text;
    try {
      text = integral ? fmt::format(fmt::runtime("{" + spec + "}"), static_cast<int64_t>(value))
                      : fmt::format(fmt::runtime("{" + spec + "}"), value);
    } catch (const fmt::format_error& e) {
      throw MisconfigurationException(fmt::format(
          "ModelCheckpoint: filename='{}' has the format '{}' for '{}' that cannot format {} ({}); accepted: "
          "Python-style format specs such as '{{val_loss:.2f}}' or '{{epoch:03d}}'",
          name, spec.substr(1), key, value, e.what()));
    }
    if (options_.auto_insert_metric_name) out += key + CHECKPOINT_EQUALS_CHAR;
    out += text;
  }
  out += name.substr(last);
  if (version) out += fmt::format("{}v{}", CHECKPOINT_JOIN_CHAR, *version);
  out += FILE_EXTENSION;
  return dirpath_ ? *dirpath_ + "/" + out : out;
}

std::vector<std::string> ModelCheckpoint::find_last_checkpoints(Trainer&) const {
  std::vector<std::string> found;
  if (!dirpath_) return found;
  for (const auto& name : detail::list_dir(*dirpath_))
    // Hidden names are the temporary files of interrupted saves.
    if (name[0] != '.' && name.find(CHECKPOINT_NAME_LAST) != std::string::npos &&
        name.size() >= 5 && name.compare(name.size() - 5, 5, FILE_EXTENSION) == 0)
      found.push_back(*dirpath_ + "/" + name);
  return found;
}

// --- state --------------------------------------------------------------------------------------

Dict ModelCheckpoint::state_dict() const {
  Dict d = new_dict();
  d.insert("monitor", options_.monitor ? c10::IValue(*options_.monitor) : c10::IValue());
  d.insert("best_model_score", tensor_or_none(best_model_score));
  d.insert("best_model_path", best_model_path);
  d.insert("current_score", tensor_or_none(current_score));
  d.insert("dirpath", dirpath_ ? c10::IValue(*dirpath_) : c10::IValue());
  Dict best_k = new_dict();
  for (const auto& [path, score] : best_k_models) best_k.insert(path, score);
  d.insert("best_k_models", best_k);
  d.insert("kth_best_model_path", kth_best_model_path);
  d.insert("kth_value", tensor_or_none(kth_value));
  d.insert("last_model_path", last_model_path);
  return d;
}

void ModelCheckpoint::load_state_dict(const Dict& state) {
  auto get = [&](const char* key) { return state.contains(key) ? state.at(key) : c10::IValue(); };
  const auto saved_dir = get("dirpath");
  if (!saved_dir.isString() || !dirpath_ || saved_dir.toStringRef() == *dirpath_) {
    best_model_score = tensor_from(get("best_model_score"));
    if (state.contains("kth_best_model_path")) kth_best_model_path = string_from(get("kth_best_model_path"));
    if (state.contains("kth_value")) kth_value = tensor_from(get("kth_value"));
    if (auto v = get("best_k_models"); v.isGenericDict()) {
      best_k_models.clear();
      for (const auto& entry : v.toGenericDict())
        best_k_models[entry.key().toStringRef()] = tensor_from(entry.value());
    }
    if (state.contains("last_model_path")) last_model_path = string_from(get("last_model_path"));
  } else {
    rank_zero_info(fmt::format(
        "The dirpath has changed from '{}' to '{}', therefore best_model_score, kth_best_model_path, "
        "kth_value, last_model_path and best_k_models won't be reloaded. Only best_model_path will be "
        "reloaded.",
        saved_dir.toStringRef(), *dirpath_));
  }
  best_model_path = string_from(get("best_model_path"));
}

}  // namespace lightning
