#pragma once
/// TensorBoardLogger (Lightning's default logger) and the SummaryWriter behind it: TensorBoard
/// event files written by our own code (protobuf + CRC32C framing), readable by TensorBoard.
///
///     using namespace lightning::loggers;
///     auto tb = std::make_shared<TensorBoardLogger>("logs", TensorBoardLoggerOptions{.name = "mnist"});
///     lightning::Trainer trainer({.logger = tb});
///     tb->experiment().add_histogram("weights", model->net[0]->weight, trainer.global_step());
#include "lightning/loggers/logger.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace lightning::loggers {

/// What torch's `SummaryWriter` accepts that Lightning passes through.
struct SummaryWriterOptions {
  /// Seconds between flushes of pending events to disk.
  double flush_secs = 120;
  /// Pending events that trigger a write to disk.
  int64_t max_queue = 10;
  /// Appended to the event file's name.
  std::string filename_suffix;
};

/// Writes one TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>.<n>`) in
/// `log_dir`. The `add_*` calls queue events; a writer thread encodes and writes them once
/// `max_queue` events are pending (at most every 100 ms, so that logging every step costs one
/// write per 100 ms), every `flush_secs` seconds, and at once on `flush()` and `close()`.
class SummaryWriter {
 public:
  /// Creates `log_dir` (and its parents) and the event file; throws MisconfigurationException
  /// naming the folder when it cannot.
  explicit SummaryWriter(std::string log_dir, SummaryWriterOptions options = {});
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  const std::string& log_dir() const;
  /// The event file's path.
  const std::string& file_path() const;

  /// A scalar (TensorBoard's `simple_value`). `walltime` defaults to now (seconds since the epoch).
  void add_scalar(const std::string& tag, double value, int64_t step = 0, std::optional<double> walltime = {});
  /// A histogram of `values` in `bins` equal-width buckets between their min and max.
  void add_histogram(const std::string& tag, const at::Tensor& values, int64_t step = 0, int64_t bins = 30,
                     std::optional<double> walltime = {});
  /// An image from a tensor laid out as `dataformats` ("CHW", "HWC", "HW"); floating values in
  /// [0, 1], integer values in [0, 255]; 1, 3 or 4 channels. Encoded as PNG.
  void add_image(const std::string& tag, const at::Tensor& image, int64_t step = 0,
                 const std::string& dataformats = "CHW", std::optional<double> walltime = {});
  /// Text (markdown) for TensorBoard's text plugin; the tag gets "/text_summary" as torch's.
  void add_text(const std::string& tag, const std::string& text, int64_t step = 0,
                std::optional<double> walltime = {});
  /// Writes every pending event and flushes the file; returns when it is on disk.
  void flush();
  /// Flushes and closes the file; later `add_*` calls are errors.
  void close();

 private:
  friend class TensorBoardLogger;
  struct Impl;
  /// Queues an already encoded `Event` message.
  void add_event_bytes(std::string event);
  /// Queues one scalar per entry under one lock (the logger's rows); tags get "prefix-".
  void add_scalars(const std::map<std::string, double>& metrics, const std::string& prefix, int64_t step,
                   double walltime);
  std::unique_ptr<Impl> impl_;
};

/// Options of TensorBoardLogger, with Lightning's names and defaults.
struct TensorBoardLoggerOptions {
  /// Experiment name: the folder under save_dir; empty means none.
  std::string name = "lightning_logs";
  /// Unset: the next free `version_N` under save_dir/name.
  std::optional<LoggerVersion> version;
  /// Lightning traces the model into a graph; LibTorch modules cannot be traced that way, so
  /// this only warns.
  bool log_graph = false;
  /// `log_hyperparams` without metrics writes `hp_metric = -1` as Lightning does.
  bool default_hp_metric = true;
  /// Put before every metric key, joined with "-".
  std::string prefix;
  /// A folder inside the version folder for the event files.
  std::optional<std::string> sub_dir;
  double flush_secs = 120;
  int64_t max_queue = 10;
};

/// Lightning's TensorBoardLogger: event files and `hparams.yaml` in
/// `save_dir/name/version_N[/sub_dir]`.
class TensorBoardLogger : public Logger {
 public:
  explicit TensorBoardLogger(std::string save_dir, TensorBoardLoggerOptions options = {});
  ~TensorBoardLogger() override;

  std::string name() const override;
  std::string version() const override;
  /// save_dir/name.
  std::optional<std::string> root_dir() const override;
  /// save_dir/name/version[/sub_dir].
  std::optional<std::string> log_dir() const override;
  std::optional<std::string> save_dir() const override;
  std::optional<std::string> sub_dir() const { return options_.sub_dir; }

  void log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) override;
  void log_hyperparams(const Hyperparameters& params, const std::map<std::string, double>& metrics = {}) override;
  void log_graph(torch::nn::Module& model) override;
  void save() override;
  void finalize(const std::string& status) override;

  /// The SummaryWriter, created (with the run's folder) on first use.
  SummaryWriter& experiment();
  /// Every hyperparameter logged so far (what `hparams.yaml` holds).
  const Hyperparameters& hparams() const { return hparams_; }

 private:
  std::string save_dir_;
  TensorBoardLoggerOptions options_;
  mutable std::optional<LoggerVersion> version_;
  mutable std::mutex mutex_;
  std::unique_ptr<SummaryWriter> experiment_;
  Hyperparameters hparams_;
  bool hparams_file_written_ = false;
  bool graph_warned_ = false;
  bool finalized_ = false;
};

}  // namespace lightning::loggers
