#include "lightning/strategies/strategy.h"

#include "lightning/accelerators/accelerator.h"
#include "lightning/core/module.h"
#include "lightning/plugins/checkpoint_io.h"
#include "lightning/precision/precision.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning::strategies {

Strategy::Strategy(std::shared_ptr<accelerators::Accelerator> accelerator,
                   std::shared_ptr<plugins::CheckpointIO> checkpoint_io,
                   std::shared_ptr<plugins::Precision> precision_plugin)
    : accelerator_(std::move(accelerator)),
      checkpoint_io_(std::move(checkpoint_io)),
      precision_(std::move(precision_plugin)) {}

Strategy::~Strategy() = default;

void Strategy::set_accelerator(std::shared_ptr<accelerators::Accelerator> accelerator) {
  accelerator_ = std::move(accelerator);
}

plugins::CheckpointIO& Strategy::checkpoint_io() {
  if (!checkpoint_io_) checkpoint_io_ = std::make_shared<plugins::TorchCheckpointIO>();
  return *checkpoint_io_;
}

void Strategy::set_checkpoint_io(std::shared_ptr<plugins::CheckpointIO> checkpoint_io) {
  checkpoint_io_ = std::move(checkpoint_io);
}

plugins::Precision& Strategy::precision_plugin() {
  if (!precision_) precision_ = std::make_shared<plugins::Precision>();
  return *precision_;
}

void Strategy::set_precision_plugin(std::shared_ptr<plugins::Precision> precision_plugin) {
  precision_ = std::move(precision_plugin);
}

void Strategy::connect(LightningModule& module) { module_ = &module; }

namespace {

LightningModule& connected(LightningModule* module) {
  if (!module)
    throw MisconfigurationException(
        "The strategy has no LightningModule: the Trainer connects one at the start of fit/validate/test/predict");
  return *module;
}

accelerators::Accelerator& given(const std::shared_ptr<accelerators::Accelerator>& accelerator) {
  if (!accelerator)
    throw MisconfigurationException(
        "The strategy has no accelerator: pass one to its constructor or let the Trainer set it from `accelerator`");
  return *accelerator;
}

}  // namespace

void Strategy::setup_environment() { given(accelerator_).setup_device(root_device()); }

void Strategy::setup(Trainer& trainer) {
  given(accelerator_).setup(trainer);
  precision_plugin().convert_module(connected(module_));
  model_to_device();
}

void Strategy::teardown() {
  if (accelerator_) accelerator_->teardown();
  checkpoint_io().teardown();
}

Batch Strategy::batch_to_device(Batch batch, int64_t dataloader_idx) {
  auto& module = connected(module_);
  precision_plugin().convert_input(batch);  // first, as Lightning's loops do
  batch = module.on_before_batch_transfer(std::move(batch), dataloader_idx);
  batch = module.transfer_batch_to_device(std::move(batch), root_device(), dataloader_idx);
  return module.on_after_batch_transfer(std::move(batch), dataloader_idx);
}

StepOutput Strategy::training_step(const Batch& batch, int64_t batch_idx) {
  plugins::ForwardContext autocast(precision_plugin(), root_device());
  return connected(module_).training_step(batch, batch_idx);
}

StepOutput Strategy::validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  plugins::ForwardContext autocast(precision_plugin(), root_device());
  return connected(module_).validation_step(batch, batch_idx, dataloader_idx);
}

StepOutput Strategy::test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  plugins::ForwardContext autocast(precision_plugin(), root_device());
  return connected(module_).test_step(batch, batch_idx, dataloader_idx);
}

torch::IValue Strategy::predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  plugins::ForwardContext autocast(precision_plugin(), root_device());
  return connected(module_).predict_step(batch, batch_idx, dataloader_idx);
}

torch::Tensor Strategy::backward(const torch::Tensor& loss, torch::optim::Optimizer*) {
  auto scaled = precision_plugin().pre_backward(loss);
  connected(module_).backward(scaled);
  return scaled;
}

torch::Tensor Strategy::optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure,
                                       const std::function<void()>& after_closure) {
  return precision_plugin().optimizer_step(optimizer, closure, after_closure);
}

void Strategy::save_checkpoint(const Dict& checkpoint, const std::string& filepath) {
  if (is_global_zero()) checkpoint_io().save_checkpoint(checkpoint, filepath);
}

Dict Strategy::load_checkpoint(const std::string& path) {
  auto loaded = checkpoint_io().load_checkpoint(path);
  if (!loaded.isGenericDict())
    throw CheckpointError(fmt::format("'{}' holds a {}, not a checkpoint dictionary", path, loaded.tagKind()));
  return loaded.toGenericDict();
}

void Strategy::remove_checkpoint(const std::string& filepath) {
  if (is_global_zero()) checkpoint_io().remove_checkpoint(filepath);
}

}  // namespace lightning::strategies
