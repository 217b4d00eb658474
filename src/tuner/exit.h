#pragma once
// Thrown by a LearningRateFinder or BatchSizeFinder that a Tuner added (Lightning's
// `_TunerExitException`): the fit ends after tuning, torn down and finished, without training.
namespace lightning::detail {

struct TunerExit {};

}  // namespace lightning::detail
