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
  std::vector<std::vector<torch::IValue>> run(std::vector<DataLoader>& loaders,
                                              const std::vector<int64_t>& num_batches, bool return_predictions);
  BatchProgress batch_progress;

 private:
  Trainer& trainer_;
};

}  // namespace lightning
