#include "lightning/callbacks/lr_finder.h"

#include "lightning/tuner/lr_finder.h"
#include "lightning/utilities/seed.h"
#include "tuner/exit.h"

#include <cctype>
#include <utility>

namespace lightning {

LearningRateFinder::LearningRateFinder(double min_lr, double max_lr, int64_t num_training_steps, std::string mode,
                                       std::optional<double> early_stop_threshold, bool update_attr,
                                       std::string attr_name)
    : LearningRateFinder(tuner::LRFinderOptions{.min_lr = min_lr,
                                                .max_lr = max_lr,
                                                .num_training = num_training_steps,
                                                .mode = std::move(mode),
                                                .early_stop_threshold = early_stop_threshold,
                                                .update_attr = update_attr,
                                                .attr_name = std::move(attr_name)}) {}

LearningRateFinder::LearningRateFinder(tuner::LRFinderOptions options) : options_(std::move(options)) {
  for (auto& c : options_.mode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  tuner::validate_options(options_);
}

void LearningRateFinder::lr_find(Trainer& trainer, LightningModule& module) {
  {
    IsolateRng isolate;  // Lightning's `isolate_rng`: the sweep does not change what training draws
    optimal_lr_ = tuner::lr_find(trainer, module, options_);
  }
  if (early_exit_) throw detail::TunerExit{};
}

void LearningRateFinder::on_fit_start(Trainer& trainer, LightningModule& module) { lr_find(trainer, module); }

}  // namespace lightning
