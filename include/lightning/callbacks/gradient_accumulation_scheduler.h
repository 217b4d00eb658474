#pragma once
/// GradientAccumulationScheduler: changes `trainer.accumulate_grad_batches()` at given epochs.
///
///     // 1 until epoch 4, 3 until epoch 9, then 20 (epoch 0 defaults to 1 when not given)
///     auto cb = std::make_shared<lightning::GradientAccumulationScheduler>(std::map<int, int>{{5, 3}, {10, 20}});
#include "lightning/callbacks/callback.h"

#include <map>

namespace lightning {

class GradientAccumulationScheduler : public Callback {
 public:
  /// Throws MisconfigurationException for an empty map, a negative epoch or a factor < 1.
  explicit GradientAccumulationScheduler(std::map<int, int> scheduling);
  /// The factor in force at `epoch`.
  int64_t get_accumulate_grad_batches(int64_t epoch) const;
  /// Whether any factor is above 1.
  bool going_to_accumulate_grad_batches() const;
  const std::map<int, int>& scheduling() const { return scheduling_; }
  /// Rejects manual optimization and a Trainer `accumulate_grad_batches` other than 1.
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;

 private:
  std::map<int, int> scheduling_;
};

}  // namespace lightning
