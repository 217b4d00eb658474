#pragma once
/// SingleDeviceStrategy: one process on one device (Lightning's default for one CPU or one GPU).
/// Its collectives return their input.
#include "lightning/strategies/strategy.h"

#include <optional>

namespace lightning::strategies {

class SingleDeviceStrategy : public Strategy {
 public:
  /// Without a device, the one the Trainer's `accelerator`/`devices` flags select.
  explicit SingleDeviceStrategy(std::optional<torch::Device> device = std::nullopt,
                                std::shared_ptr<accelerators::Accelerator> accelerator = nullptr,
                                std::shared_ptr<plugins::CheckpointIO> checkpoint_io = nullptr,
                                std::shared_ptr<plugins::Precision> precision_plugin = nullptr);

  torch::Device root_device() const override;
  void model_to_device() override;
  /// Keeps a device given to the constructor; else takes the only one (more throw
  /// MisconfigurationException: they need a distributed strategy).
  void set_parallel_devices(const std::vector<torch::Device>& devices) override;
  std::string name() const override { return "single_device"; }

  torch::Tensor reduce(const torch::Tensor& tensor, const std::string& reduce_op = "mean") override;
  bool reduce_boolean_decision(bool decision, bool all = true) override { return decision; }
  void barrier(const std::string& name = "") override {}
  torch::IValue broadcast(const torch::IValue& obj, int64_t src = 0) override { return obj; }
  torch::Tensor all_gather(const torch::Tensor& tensor, bool sync_grads = false) override;

 private:
  std::optional<torch::Device> device_;
  bool device_given_ = false;
};

}  // namespace lightning::strategies
