#pragma once
/// ModelCheckpoint: saves checkpoints during `fit` — periodically, the last one, and the best
/// `save_top_k` by a monitored metric — with Lightning's options, file names and state.
#include "lightning/callbacks/callback.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lightning {

/// Lightning's ModelCheckpoint arguments (same names and defaults).
struct ModelCheckpointOptions {
  /// Folder of the files. Unset: `<log_dir>/checkpoints` of the first logger with a log_dir,
  /// else `<default_root_dir>/checkpoints`.
  std::optional<std::string> dirpath;
  /// Template of the file name without ".ckpt": `"{epoch}-{val_loss:.2f}"` gives
  /// `epoch=2-val_loss=0.12.ckpt` (see auto_insert_metric_name). Unset: "{epoch}-{step}".
  std::optional<std::string> filename;
  /// Metric to rank checkpoints by (a key of `trainer.callback_metrics()`). Unset: only the
  /// latest checkpoint is kept (save_top_k 1) or all (-1).
  std::optional<std::string> monitor;
  bool verbose = false;
  /// Also keep `last.ckpt` (a copy of the latest checkpoint).
  bool save_last = false;
  /// 0: none, k: the k best, -1: all.
  int64_t save_top_k = 1;
  bool save_weights_only = false;
  /// "min" or "max": which direction of `monitor` is better.
  std::string mode = "min";
  /// `{epoch}` in the template becomes `epoch={epoch}`; set false for templates like
  /// `"epoch_{epoch}"` or metric names with '/'.
  bool auto_insert_metric_name = true;
  /// Save every N optimizer steps (0: off). Exclusive with the two below.
  std::optional<int64_t> every_n_train_steps;
  /// Save when this much time has passed since the last save (checked after each batch).
  std::optional<std::chrono::duration<double>> train_time_interval;
  /// Save every N epochs (0: off). The default (1) applies when none of the three is given.
  std::optional<int64_t> every_n_epochs;
  /// Save at the training epoch's end (true) or after validation (false). Unset: at the
  /// epoch's end when validation runs once per epoch or not at all, else after validation.
  std::optional<bool> save_on_train_epoch_end;
  /// A name that exists already gets "-v1", "-v2"... instead of being overwritten.
  bool enable_version_counter = true;
};

class ModelCheckpoint : public Callback {
 public:
  static constexpr const char* CHECKPOINT_JOIN_CHAR = "-";
  static constexpr const char* CHECKPOINT_EQUALS_CHAR = "=";
  static constexpr const char* CHECKPOINT_NAME_LAST = "last";
  static constexpr const char* FILE_EXTENSION = ".ckpt";

  /// Throws MisconfigurationException for invalid combinations (naming the option and value).
  explicit ModelCheckpoint(ModelCheckpointOptions options = {});

  /// Path of the best checkpoint so far (by `monitor`; the latest without one).
  std::string best_model_path;
  /// Score of `best_model_path` (undefined tensor without a monitor).
  torch::Tensor best_model_score;
  /// Paths of the kept top-k checkpoints and their scores.
  std::map<std::string, torch::Tensor> best_k_models;
  std::string kth_best_model_path;
  torch::Tensor kth_value;
  std::string last_model_path;
  torch::Tensor current_score;
  /// The resolved folder (set in `setup`).
  std::optional<std::string> dirpath() const { return dirpath_; }
  const ModelCheckpointOptions& options() const { return options_; }

  /// The file name for `metrics` (Lightning's `format_checkpoint_name`): the template with
  /// values filled in and, when `version` is given, "-v<version>" appended.
  std::string format_checkpoint_name(const std::map<std::string, torch::Tensor>& metrics,
                                     const std::optional<std::string>& filename = std::nullopt,
                                     std::optional<int64_t> version = std::nullopt) const;
  /// Last checkpoints found in the folder ("last*.ckpt"), for `ckpt_path="last"`.
  std::vector<std::string> find_last_checkpoints(Trainer& trainer) const;

  std::string state_key() const override;
  Dict state_dict() const override;
  void load_state_dict(const Dict& state) override;
  bool monitors_metrics() const override { return true; }

  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;

 private:
  bool should_skip_saving_checkpoint(Trainer& trainer) const;
  bool should_save_on_train_epoch_end(Trainer& trainer) const;
  std::map<std::string, torch::Tensor> monitor_candidates(Trainer& trainer) const;
  void save_topk_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates);
  void save_none_monitor_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates);
  void save_monitor_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates);
  void save_last_checkpoint(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates);
  bool check_monitor_top_k(Trainer& trainer, const torch::Tensor& current) const;
  void update_best_and_save(const torch::Tensor& current, Trainer& trainer,
                            const std::map<std::string, torch::Tensor>& candidates);
  std::string checkpoint_path(Trainer& trainer, const std::map<std::string, torch::Tensor>& candidates,
                              const std::optional<std::string>& filename, const std::string& del_filepath) const;
  void save_checkpoint(Trainer& trainer, const std::string& filepath);
  void remove_checkpoint(Trainer& trainer, const std::string& filepath);

  ModelCheckpointOptions options_;
  int64_t every_n_train_steps_ = 0, every_n_epochs_ = 1;
  std::optional<std::string> dirpath_;
  std::optional<int64_t> last_global_step_saved_;
  std::optional<std::chrono::steady_clock::time_point> last_time_checked_;
  std::string last_checkpoint_saved_;
};

}  // namespace lightning
