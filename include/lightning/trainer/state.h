#pragma once
/// What the Trainer is doing: `trainer.state().fn / status / stage`.
#include <optional>
#include <string>

namespace lightning {

/// The user-facing entry point that is running (Tuning: Lightning 1.x's `tune`).
enum class TrainerFn { Fitting, Validating, Testing, Predicting, Tuning };
enum class TrainerStatus { Initializing, Running, Finished, Interrupted };
/// The loop that is running (sanity checking is a validation run before training).
enum class RunningStage { Training, SanityChecking, Validating, Testing, Predicting, Tuning };

/// "fit", "validate", "test", "predict", "tune" (the `stage` string passed to setup/teardown).
std::string to_string(TrainerFn fn);
/// "initializing", "running", "finished", "interrupted".
std::string to_string(TrainerStatus status);
/// "train", "sanity_check", "validate", "test", "predict", "tune".
std::string to_string(RunningStage stage);

/// The stage an entry point runs in: train for fit, tune for tune, else validate/test/predict.
RunningStage stage_of(TrainerFn fn);

struct TrainerState {
  std::optional<TrainerFn> fn;
  TrainerStatus status = TrainerStatus::Initializing;
  std::optional<RunningStage> stage;
  bool finished() const { return status == TrainerStatus::Finished; }
  bool stopped() const { return status == TrainerStatus::Interrupted; }
};

}  // namespace lightning
