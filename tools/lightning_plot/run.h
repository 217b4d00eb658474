#pragma once
// What lightning-plot reads from one `lightning_logs/version_N` folder.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lightning::plot {

/// An input that cannot be read; the message names the file. The tool exits with status 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Point {
  int64_t step;
  double value;
};
/// Sorted by step, one value per step.
using Series = std::vector<Point>;

/// One metric of a run and the file it was read from.
struct Metric {
  Series points;
  std::string source;  // "metrics.csv" or the event file's name
};

struct Checkpoint {
  std::string name;
  int64_t size_bytes;
  int64_t mtime_s;
};

struct Run {
  std::string dir;    // as given on the command line
  std::string label;  // unique among the runs of one page (see `unique_labels`)
  /// The files metrics were read from, relative to `dir`: metrics.csv first, then event files.
  std::vector<std::string> sources;
  /// Every logged metric but `epoch`.
  std::map<std::string, Metric> metrics;
  /// The logged `epoch` metric (empty when there is none).
  Series epoch;
  /// hparams.yaml flattened ("a/b" for nested maps), in the file's order; nullopt without the file.
  std::optional<std::vector<std::pair<std::string, std::string>>> hparams;
  /// checkpoints/*.ckpt, oldest first.
  std::vector<Checkpoint> checkpoints;
};

/// Reads metrics.csv and/or the event files, hparams.yaml and the checkpoint list of `dir`.
/// A metric in both metrics.csv and an event file is read from metrics.csv only (full precision;
/// event files hold float32). Throws InputError.
Run load_run(const std::string& dir);

/// The scalars of one TensorBoard event file by tag (simple values and one-number float
/// tensors). Throws InputError naming `path` for a truncated record, a bad CRC or a record that
/// is not an Event.
std::map<std::string, Series> read_event_file(const std::string& path);

/// The metrics of a CSVLogger's metrics.csv by column, `step` giving each row's step.
std::map<std::string, Series> read_metrics_csv(const std::string& path);

/// The shortest trailing part of each path ("version_0", then "a/version_0", ...) that tells
/// them apart.
std::vector<std::string> unique_labels(const std::vector<std::string>& dirs);

}  // namespace lightning::plot
