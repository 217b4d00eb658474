#include "lightning/strategies/single_device.h"

#include "lightning/core/module.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning::strategies {

SingleDeviceStrategy::SingleDeviceStrategy(std::optional<torch::Device> device,
                                           std::shared_ptr<accelerators::Accelerator> accelerator,
                                           std::shared_ptr<plugins::CheckpointIO> checkpoint_io,
                                           std::shared_ptr<plugins::Precision> precision_plugin)
    : Strategy(std::move(accelerator), std::move(checkpoint_io), std::move(precision_plugin)),
      device_(device),
      device_given_(device.has_value()) {}

torch::Device SingleDeviceStrategy::root_device() const { return device_.value_or(torch::Device(torch::kCPU)); }

void SingleDeviceStrategy::model_to_device() {
  if (module_) module_->to(root_device());
}

void SingleDeviceStrategy::set_parallel_devices(const std::vector<torch::Device>& devices) {
  if (device_given_) return;
  if (devices.size() != 1)
    throw MisconfigurationException(fmt::format(
        "SingleDeviceStrategy runs on one device, and {} were selected; accepted: devices=1, or strategy='ddp' for "
        "several",
        devices.size()));
  device_ = devices.front();
}

torch::Tensor SingleDeviceStrategy::reduce(const torch::Tensor& tensor, const std::string& reduce_op) {
  if (reduce_op != "mean" && reduce_op != "sum" && reduce_op != "max" && reduce_op != "min")
    throw MisconfigurationException(
        fmt::format("reduce_op='{}' is invalid; accepted: 'mean', 'sum', 'max', 'min'", reduce_op));
  return tensor;  // one process: every reduction of one value is the value
}

torch::Tensor SingleDeviceStrategy::all_gather(const torch::Tensor& tensor, bool) { return tensor; }

}  // namespace lightning::strategies

