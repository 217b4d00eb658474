#pragma once
// Evaluation and prediction run without autograd: under c10::InferenceMode, or NoGradGuard when
// the Trainer's inference_mode flag is false (as Lightning chooses between the two).
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <optional>

namespace lightning::detail {

class EvaluationGradGuard {
 public:
  explicit EvaluationGradGuard(bool inference_mode) {
    if (inference_mode)
      inference_.emplace();
    else
      no_grad_.emplace();
  }

 private:
  std::optional<c10::InferenceMode> inference_;
  std::optional<torch::NoGradGuard> no_grad_;
};

}  // namespace lightning::detail
