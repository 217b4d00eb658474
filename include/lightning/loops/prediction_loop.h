#pragma once
/// PredictionLoop: `predict_step` over every predict dataloader.
#include "lightning/data/dataloader.h"
#include "lightning/loops/progress.h"

#include <ATen/core/ivalue.h>

#include <vector>

namespace lightning {

class Trainer;

class PredictionLoop {
 public:
  explicit PredictionLoop(Trainer& trainer) : trainer_(trainer) {}
  /// Requests the predict dataloaders and counts their batches under `limit_predict_batches`.
  void setup_data();
  void reset_data();
  /// The outputs of `predict_step`, one vector per dataloader (empty unless `return_predictions`).
  std::vector<std::vector<torch::IValue>> run(bool return_predictions);
  const std::vector<DataLoader>& dataloaders() const { return dataloaders_; }
  const std::vector<int64_t>& max_batches() const { return max_batches_; }
  BatchProgress batch_progress;

 private:
  Trainer& trainer_;
  std::vector<DataLoader> dataloaders_;
  std::vector<int64_t> max_batches_;
};

}  // namespace lightning
