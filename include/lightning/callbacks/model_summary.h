#pragma once
/// ModelSummary: the table of layers and parameter counts Lightning prints when `fit` starts.
#include "lightning/callbacks/callback.h"

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lightning {

/// One row of the summary: a submodule, its parameters and (when known) its input/output sizes.
struct LayerSummary {
  /// Dotted path from the summarized module ("net", "net.0").
  std::string name;
  /// Class name without namespaces ("Linear" for torch::nn::Linear).
  std::string type;
  /// Parameters of the layer and everything under it.
  int64_t num_parameters = 0;
  /// "[1, 784]", or "?" when the layer's input is unknown (only filled with an example input).
  std::string in_size = "?";
  std::string out_size = "?";
};

/// The numbers behind the table, so code and tests can read them:
///
///     auto s = lightning::summarize_model(*model, /*max_depth=*/1);
///     std::cout << s.total_parameters << " params, " << s.model_size_mb << " MB\n" << s.to_string();
struct ModelSummaryData {
  /// Rows in `named_modules` order (pre-order), the root excluded; empty for max_depth 0.
  std::vector<LayerSummary> layers;
  int64_t total_parameters = 0;
  int64_t trainable_parameters = 0;
  /// Estimated size of the parameters in MB, as Lightning: total_parameters * 4 bytes / 1e6.
  double model_size_mb = 0;
  /// True when an example input was given: the table then has "In sizes"/"Out sizes" columns.
  bool has_sizes = false;

  int64_t non_trainable_parameters() const { return total_parameters - trainable_parameters; }
  /// The table, exactly as Lightning formats it (no trailing newline).
  std::string to_string() const;
};

/// Summarizes `module`: `max_depth` 1 lists direct children, 2 also their children, -1 every
/// submodule, 0 no rows (totals only). With a defined `example_input`, in/out sizes are found by
/// running the module under NoGradGuard in eval mode (training flags restored afterwards).
/// Throws MisconfigurationException when max_depth < -1.
ModelSummaryData summarize_model(torch::nn::Module& module, int max_depth = 1,
                                 const torch::Tensor& example_input = {});
/// As above, with the module's `example_input_array` and its virtual `forward`.
ModelSummaryData summarize_model(LightningModule& module, int max_depth = 1);

/// The summary table as text (`summarize_model(...).to_string()`).
std::string summarize(torch::nn::Module& module, int max_depth = 1, const torch::Tensor& example_input = {});
std::string summarize(LightningModule& module, int max_depth = 1);

/// Prints the model summary on the global-zero process when `fit` starts, as Lightning's
/// ModelSummary callback (added by the Trainer when `enable_model_summary` is true):
///
///     Trainer trainer({.callbacks = {std::make_shared<lightning::ModelSummary>(/*max_depth=*/2)}});
class ModelSummary : public Callback {
 public:
  /// `max_depth`: 1 = direct children, -1 = all layers, 0 = disabled. Throws
  /// MisconfigurationException when < -1.
  explicit ModelSummary(int max_depth = 1, std::ostream* out = nullptr);

  int max_depth() const { return max_depth_; }
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

 private:
  int max_depth_;
  std::ostream* out_;  // nullptr: std::cout
};

namespace detail {
/// Lightning's `get_human_readable_count`, without the trailing spaces below 1000:
/// 999 -> "999", 1200 -> "1.2 K", 123456 -> "123 K", 3.4e6 -> "3.4 M", 5e15 -> "5,000 T".
std::string format_param_count(int64_t number);
/// "torch::nn::Linear" -> "Linear", "ns::Outer<ns::T>" -> "Outer<ns::T>".
std::string short_type_name(const std::string& name);
/// "[1, 784]" (Python's list format), "[]" for a scalar.
std::string format_sizes(c10::IntArrayRef sizes);
}  // namespace detail

}  // namespace lightning
