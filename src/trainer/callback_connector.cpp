// The Trainer's callbacks (Lightning's `_CallbackConnector`): the user's, the defaults the flags
// ask for, and the module's `configure_callbacks`, in Lightning's order; and finding them by type.
#include "lightning/trainer/trainer.h"

#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/timer.h"
#include "lightning/utilities/errors.h"
#include "trainer/resolved_options.h"

#include <algorithm>

namespace lightning {

void Trainer::setup_callbacks() {
  // User callbacks first, then the defaults the flags ask for, then the module's
  // configure_callbacks(), which replace callbacks of the same type (Lightning's merge).
  callbacks_ = user_callbacks_;
  auto has = [&](auto* probe) {
    using T = std::remove_pointer_t<decltype(probe)>;
    return std::any_of(callbacks_.begin(), callbacks_.end(),
                       [](const auto& c) { return dynamic_cast<T*>(c.get()) != nullptr; });
  };
  if (!options_->accumulate_grad_batches_schedule.empty() && !has(static_cast<GradientAccumulationScheduler*>(nullptr)))
    callbacks_.push_back(std::make_shared<GradientAccumulationScheduler>(options_->accumulate_grad_batches_schedule));
  if (options_->max_time && !has(static_cast<Timer*>(nullptr)))
    callbacks_.push_back(std::make_shared<Timer>(options_->max_time));
  if (options_->enable_progress_bar && !has(static_cast<TQDMProgressBar*>(nullptr)))
    callbacks_.push_back(std::make_shared<TQDMProgressBar>());
  if (options_->enable_model_summary && !has(static_cast<ModelSummary*>(nullptr)))
    callbacks_.push_back(std::make_shared<ModelSummary>());
  if (options_->enable_checkpointing && !has(static_cast<ModelCheckpoint*>(nullptr))) {
    if (!default_checkpoint_) default_checkpoint_ = std::make_shared<ModelCheckpoint>();
    callbacks_.push_back(default_checkpoint_);
  }
  auto from_model = call_module("configure_callbacks", [](LightningModule& m) { return m.configure_callbacks(); });
  for (auto& cb : from_model) {
    if (!cb) throw MisconfigurationException("configure_callbacks returned a null callback; accepted: non-null");
    const auto& type = typeid(*cb);
    callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                    [&](const auto& c) { return typeid(*c) == type; }),
                     callbacks_.end());
  }
  callbacks_.insert(callbacks_.end(), from_model.begin(), from_model.end());
  // Lightning's `_reorder_callbacks`: the tuner's callbacks first (they search before the others
  // see a step), checkpoint callbacks last (they save what every other callback has done).
  std::stable_partition(callbacks_.begin(), callbacks_.end(), [](const auto& c) {
    return dynamic_cast<BatchSizeFinder*>(c.get()) != nullptr || dynamic_cast<LearningRateFinder*>(c.get()) != nullptr;
  });
  std::stable_partition(callbacks_.begin(), callbacks_.end(),
                        [](const auto& c) { return dynamic_cast<ModelCheckpoint*>(c.get()) == nullptr; });
}

namespace {

template <typename T>
std::vector<T*> callbacks_of_type(const std::vector<std::shared_ptr<Callback>>& callbacks) {
  std::vector<T*> found;
  for (const auto& cb : callbacks)
    if (auto* typed = dynamic_cast<T*>(cb.get())) found.push_back(typed);
  return found;
}

}  // namespace

std::vector<ModelCheckpoint*> Trainer::checkpoint_callbacks() const {
  return callbacks_of_type<ModelCheckpoint>(callbacks_);
}
ModelCheckpoint* Trainer::checkpoint_callback() const {
  auto all = checkpoint_callbacks();
  return all.empty() ? nullptr : all.front();
}
std::vector<EarlyStopping*> Trainer::early_stopping_callbacks() const {
  return callbacks_of_type<EarlyStopping>(callbacks_);
}
EarlyStopping* Trainer::early_stopping_callback() const {
  auto all = early_stopping_callbacks();
  return all.empty() ? nullptr : all.front();
}

TQDMProgressBar* Trainer::progress_bar_callback() const {
  auto all = callbacks_of_type<TQDMProgressBar>(callbacks_);
  return all.empty() ? nullptr : all.front();
}

}  // namespace lightning
