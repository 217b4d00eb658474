#pragma once
/// Synchronised batch norm: `sync_batchnorm=true` (Lightning's `TorchSyncBatchNorm` layer-sync
/// plugin) makes every `lightning::nn::SyncBatchNorm` in the module compute its batch statistics
/// over all processes, in forward and backward, as PyTorch's `SyncBatchNorm` does.
///
/// Python swaps each `BatchNorm` for a `SyncBatchNorm` object. A C++ module calls its members
/// through their own handles (`bn->forward(x)`), so no swap can reach those calls: declare the
/// layer as `lightning::nn::SyncBatchNorm` instead. It has BatchNorm's options, parameters and
/// buffers (same names, so checkpoints are unchanged) and is an ordinary BatchNorm in one process
/// or without the flag. With the flag, a torch::nn::BatchNorm left in the module is an error.
#include "lightning/plugins/plugin.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

namespace lightning {
namespace strategies {
class Strategy;
}  // namespace strategies

namespace nn {

class SyncBatchNormImpl : public torch::nn::Cloneable<SyncBatchNormImpl> {
 public:
  explicit SyncBatchNormImpl(int64_t num_features) : SyncBatchNormImpl(torch::nn::BatchNormOptions(num_features)) {}
  explicit SyncBatchNormImpl(const torch::nn::BatchNormOptions& options);
  void reset() override;
  /// Input of shape [N, C, ...] (1d, 2d and 3d batch norm alike).
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  /// Set by TorchSyncBatchNorm: the strategy whose collectives combine the statistics (null: none).
  void set_process_group(strategies::Strategy* strategy) { strategy_ = strategy; }
  strategies::Strategy* process_group() const { return strategy_; }

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  strategies::Strategy* strategy_ = nullptr;
};
TORCH_MODULE(SyncBatchNorm);

}  // namespace nn

namespace plugins {

/// Lightning's `LayerSync`: changes a module's layers so that they synchronise across processes,
/// and changes them back.
class LayerSync : public Plugin {
 public:
  virtual void apply(torch::nn::Module& module, strategies::Strategy& strategy) = 0;
  virtual void revert(torch::nn::Module& module) = 0;
};

class TorchSyncBatchNorm : public LayerSync {
 public:
  /// Connects every SyncBatchNorm to `strategy`. Throws MisconfigurationException naming a
  /// torch::nn::BatchNorm1d/2d/3d found in the module (it would stay per-process).
  void apply(torch::nn::Module& module, strategies::Strategy& strategy) override;
  void revert(torch::nn::Module& module) override;
};

}  // namespace plugins
}  // namespace lightning
