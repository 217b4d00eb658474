#include "lightning/trainer/state.h"

namespace lightning {

std::string to_string(TrainerFn fn) {
  switch (fn) {
    case TrainerFn::Fitting: return "fit";
    case TrainerFn::Validating: return "validate";
    case TrainerFn::Testing: return "test";
    case TrainerFn::Predicting: return "predict";
    case TrainerFn::Tuning: return "tune";
  }
  return "";
}

RunningStage stage_of(TrainerFn fn) {
  switch (fn) {
    case TrainerFn::Fitting: return RunningStage::Training;
    case TrainerFn::Validating: return RunningStage::Validating;
    case TrainerFn::Testing: return RunningStage::Testing;
    case TrainerFn::Predicting: return RunningStage::Predicting;
    case TrainerFn::Tuning: return RunningStage::Tuning;
  }
  return RunningStage::Training;
}

std::string to_string(TrainerStatus status) {
  switch (status) {
    case TrainerStatus::Initializing: return "initializing";
    case TrainerStatus::Running: return "running";
    case TrainerStatus::Finished: return "finished";
    case TrainerStatus::Interrupted: return "interrupted";
  }
  return "";
}

std::string to_string(RunningStage stage) {
  switch (stage) {
    case RunningStage::Training: return "train";
    case RunningStage::SanityChecking: return "sanity_check";
    case RunningStage::Validating: return "validate";
    case RunningStage::Testing: return "test";
    case RunningStage::Predicting: return "predict";
    case RunningStage::Tuning: return "tune";
  }
  return "";
}

}  // namespace lightning
