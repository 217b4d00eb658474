#include "lightning/callbacks/batch_size_finder.h"

#include "lightning/tuner/batch_size_scaler.h"
#include "tuner/exit.h"

#include <cctype>
#include <utility>

namespace lightning {

BatchSizeFinder::BatchSizeFinder(std::string mode, int64_t steps_per_trial, int64_t init_val, int64_t max_trials,
                                 std::string batch_arg_name, std::optional<int64_t> max_memory)
    : BatchSizeFinder(tuner::BatchSizeScalerOptions{.mode = std::move(mode),
                                                    .steps_per_trial = steps_per_trial,
                                                    .init_val = init_val,
                                                    .max_trials = max_trials,
                                                    .batch_arg_name = std::move(batch_arg_name),
                                                    .max_memory = max_memory}) {}

BatchSizeFinder::BatchSizeFinder(tuner::BatchSizeScalerOptions options)
    : options_(std::move(options)), optimal_batch_size_(options_.init_val) {
  for (auto& c : options_.mode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  tuner::validate_options(options_);
}

void BatchSizeFinder::setup(Trainer& trainer, LightningModule& module, const std::string&) {
  tuner::check_scale_batch_size(trainer, module, options_.batch_arg_name);
}

void BatchSizeFinder::scale_batch_size(Trainer& trainer, LightningModule& module) {
  optimal_batch_size_ = tuner::scale_batch_size(trainer, module, options_);
  if (early_exit_) throw detail::TunerExit{};
}

void BatchSizeFinder::on_fit_start(Trainer& trainer, LightningModule& module) { scale_batch_size(trainer, module); }

}  // namespace lightning
