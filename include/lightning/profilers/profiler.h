#pragma once
/// Profilers: time named actions of a run (Lightning's `Profiler` interface).
///
///     auto profiler = std::make_shared<lightning::profilers::SimpleProfiler>(std::nullopt, "perf");
///     lightning::Trainer trainer({.profiler = profiler});  // or .profiler = "simple"
///     { auto scope = profiler->profile("load data"); ... }  // timed, also outside a Trainer
///
/// The Trainer wraps every hook it calls (`[Callback]<state_key>.<hook>`,
/// `[LightningModule]<class>.<hook>`, `[Strategy]<class>.<hook>`), its loops' epochs, batches and
/// dataloader fetches, and prints `summary()` at the end of each stage (to
/// `<dirpath>/<stage>-<filename>.txt` when a filename is given).
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

namespace lightning::profilers {

class Profiler {
 public:
  /// `dirpath` unset with a `filename`: the Trainer's log_dir.
  explicit Profiler(std::optional<std::string> dirpath = std::nullopt,
                    std::optional<std::string> filename = std::nullopt);
  virtual ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  virtual void start(const std::string& action_name) = 0;
  virtual void stop(const std::string& action_name) = 0;
  /// The report of what was recorded; empty when there is nothing to say.
  virtual std::string summary() { return ""; }

  /// Starts `action_name` and stops it when the scope ends, exceptions included.
  class Scope {
   public:
    Scope(Profiler& profiler, std::string action_name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Profiler& profiler_;
    std::string action_;
  };
  [[nodiscard]] Scope profile(std::string action_name) { return Scope(*this, std::move(action_name)); }

  /// Called by the Trainer before a stage runs ("fit", "validate", ...): `local_rank` only under
  /// several processes (it goes into the file name), `log_dir` fills an unset `dirpath`.
  virtual void setup(const std::string& stage, std::optional<int64_t> local_rank = std::nullopt,
                     std::optional<std::string> log_dir = std::nullopt);
  /// Writes `summary()` to the report file, or prints it on rank 0 when there is no file.
  void describe();
  /// Closes the report file.
  virtual void teardown(const std::optional<std::string>& stage);

  std::optional<std::string> dirpath;
  std::optional<std::string> filename;
  const std::optional<std::string>& stage() const { return stage_; }
  int64_t local_rank() const { return local_rank_.value_or(0); }

 protected:
  /// Lightning's `<stage>-<filename>-<local_rank>-<action><extension>`, without the absent parts.
  std::string prepare_filename(const std::optional<std::string>& action = std::nullopt,
                               const std::string& extension = ".txt", const std::string& split = "-") const;
  /// The rank `setup` was given (set only under several processes).
  const std::optional<int64_t>& setup_local_rank() const { return local_rank_; }
  /// "<STAGE> Profiler Report" (without a stage: "Profiler Report").
  std::string report_title() const;

 private:
  std::optional<std::string> stage_;
  std::optional<int64_t> local_rank_;
  std::unique_ptr<std::ofstream> output_;
};

/// Records nothing: the Trainer's profiler when none is asked for.
class PassThroughProfiler final : public Profiler {
 public:
  using Profiler::Profiler;
  void start(const std::string&) override {}
  void stop(const std::string&) override {}
};

}  // namespace lightning::profilers
