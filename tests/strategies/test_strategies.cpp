// Strategies: the batch's path through the strategy, a user's strategy object, the registry,
// the single-device collectives, and the flags a strategy object must not meet twice.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;
using strategies::SingleDeviceStrategy;
using strategies::Strategy;
using strategies::StrategyRegistry;

namespace {

/// Records every call the loops make of the strategy, and the module's transfer hooks in between.
struct RecordingStrategy : SingleDeviceStrategy {
  std::vector<std::string>* calls;
  explicit RecordingStrategy(std::vector<std::string>* c)
      : SingleDeviceStrategy(std::nullopt, std::make_shared<accelerators::CPUAccelerator>()), calls(c) {}
  void setup_environment() override {
    calls->push_back("setup_environment");
    SingleDeviceStrategy::setup_environment();
  }
  void setup(Trainer& trainer) override {
    calls->push_back("setup");
    SingleDeviceStrategy::setup(trainer);
  }
  void teardown() override {
    calls->push_back("teardown");
    SingleDeviceStrategy::teardown();
  }
  Batch batch_to_device(Batch batch, int64_t dataloader_idx) override {
    calls->push_back("batch_to_device");
    return SingleDeviceStrategy::batch_to_device(std::move(batch), dataloader_idx);
  }
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    calls->push_back("training_step");
    return SingleDeviceStrategy::training_step(batch, batch_idx);
  }
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    calls->push_back("validation_step");
    return SingleDeviceStrategy::validation_step(batch, batch_idx, dataloader_idx);
  }
  StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    calls->push_back("test_step");
    return SingleDeviceStrategy::test_step(batch, batch_idx, dataloader_idx);
  }
  torch::IValue predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    calls->push_back("predict_step");
    return SingleDeviceStrategy::predict_step(batch, batch_idx, dataloader_idx);
  }
  torch::Tensor backward(const torch::Tensor& loss, torch::optim::Optimizer* optimizer) override {
    calls->push_back(optimizer ? "backward" : "backward(manual)");
    return SingleDeviceStrategy::backward(loss, optimizer);
  }
  torch::Tensor optimizer_step(torch::optim::Optimizer& optimizer, const std::function<torch::Tensor()>& closure,
                               const std::function<void()>& after_closure) override {
    calls->push_back("optimizer_step");
    return SingleDeviceStrategy::optimizer_step(optimizer, closure, after_closure);
  }
  void save_checkpoint(const Dict& checkpoint, const std::string& filepath) override {
    calls->push_back("save_checkpoint");
    SingleDeviceStrategy::save_checkpoint(checkpoint, filepath);
  }
  Dict load_checkpoint(const std::string& path) override {
    calls->push_back("load_checkpoint");
    return SingleDeviceStrategy::load_checkpoint(path);
  }
};

struct TransferRecorder : BoringModel {
  std::vector<std::string>* calls;
  explicit TransferRecorder(std::vector<std::string>* c) : calls(c) {}
  Batch on_before_batch_transfer(Batch batch, int64_t) override {
    calls->push_back("on_before_batch_transfer");
    return batch;
  }
  Batch transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t idx) override {
    calls->push_back("transfer_batch_to_device");
    return BoringModel::transfer_batch_to_device(std::move(batch), device, idx);
  }
  Batch on_after_batch_transfer(Batch batch, int64_t) override {
    calls->push_back("on_after_batch_transfer");
    return batch;
  }
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    calls->push_back("module.training_step");
    return BoringModel::training_step(batch, batch_idx);
  }
  void backward(const torch::Tensor& loss) override {
    calls->push_back("module.backward");
    BoringModel::backward(loss);
  }
  void on_before_optimizer_step(torch::optim::Optimizer&) override { calls->push_back("on_before_optimizer_step"); }
};

std::vector<std::string> without_transfer_hooks(const std::vector<std::string>& calls) {
  std::vector<std::string> out;
  for (const auto& c : calls)
    if (c.find("transfer") == std::string::npos) out.push_back(c);
  return out;
}

}  // namespace

TEST(Strategies, TheBatchGoesThroughTheStrategy) {
  std::vector<std::string> calls;
  auto strategy = std::make_shared<RecordingStrategy>(&calls);
  auto model = std::make_shared<TransferRecorder>(&calls);
  Trainer trainer(quiet({.strategy = strategy, .max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 1,
                         .limit_test_batches = 1, .limit_predict_batches = 1, .num_sanity_val_steps = 0}));
  EXPECT_EQ(&trainer.strategy(), strategy.get());
  trainer.fit(model);
  const std::vector<std::string> expected = {
      "setup_environment", "setup",
      // one training batch: transfer, step, backward and the update, all through the strategy
      "batch_to_device", "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer",
      "optimizer_step", "training_step", "module.training_step", "backward", "module.backward",
      "on_before_optimizer_step",
      // one validation batch
      "batch_to_device", "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer",
      "validation_step", "teardown"};
  EXPECT_EQ(calls, expected);
  calls.clear();
  trainer.test(model, DataLoaders{}, std::nullopt, false);
  trainer.predict(model, DataLoaders{}, false);
  EXPECT_EQ(without_transfer_hooks(calls), (std::vector<std::string>{"setup_environment", "setup", "batch_to_device",
                                                                     "test_step", "teardown", "setup_environment",
                                                                     "setup", "batch_to_device", "predict_step",
                                                                     "teardown"}));
}

namespace {

struct ManualModel : BoringModel {
  ManualModel() { automatic_optimization = false; }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto& opt = optimizers()[0];
    opt.zero_grad();
    auto loss = step(batch[0]);
    manual_backward(loss);
    opt.step();
    return loss;
  }
};

}  // namespace

TEST(Strategies, ManualOptimizationStepsThroughTheStrategy) {
  std::vector<std::string> calls;
  auto strategy = std::make_shared<RecordingStrategy>(&calls);
  Trainer trainer(quiet({.strategy = strategy, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(std::make_shared<ManualModel>());
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_EQ(without_transfer_hooks(calls),
            (std::vector<std::string>{"setup_environment", "setup", "batch_to_device", "training_step",
                                      "backward(manual)", "optimizer_step", "batch_to_device", "training_step",
                                      "backward(manual)", "optimizer_step", "teardown"}));
}

TEST(Strategies, CheckpointsGoThroughTheStrategy) {
  TempDir dir;
  std::vector<std::string> calls;
  auto strategy = std::make_shared<RecordingStrategy>(&calls);
  Trainer trainer(quiet({.strategy = strategy, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                         .default_root_dir = dir.path()}));
  auto model = std::make_shared<BoringModel>();
  trainer.fit(model);
  const auto path = dir.path() + "/manual.ckpt";
  trainer.save_checkpoint(path);
  calls.clear();
  Trainer resumed(quiet({.strategy = std::make_shared<RecordingStrategy>(&calls), .max_epochs = 2,
                         .limit_train_batches = 2, .limit_val_batches = 0, .default_root_dir = dir.path()}));
  resumed.fit(std::make_shared<BoringModel>(), std::nullopt, {}, path);
  EXPECT_EQ(resumed.global_step(), 4);
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "load_checkpoint"), 1);
}

TEST(Strategies, RegistryAndNames) {
  auto& registry = StrategyRegistry::instance();
  auto names = registry.available_strategies();
  EXPECT_NE(std::find(names.begin(), names.end(), "single_device"), names.end());
  EXPECT_EQ(Trainer(quiet({.strategy = "single_device"})).strategy().name(), "single_device");
  EXPECT_EQ(Trainer(quiet()).strategy().name(), "single_device");
  for (const char* name : {"ddp", "ddp_find_unused_parameters_false", "ddp_find_unused_parameters_true"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  auto err = error_of([] { Trainer t(quiet({.strategy = "ddp_notebook"})); });
  EXPECT_TRUE(contains(err, "strategy='ddp_notebook' is not supported by this build; accepted: 'auto', 'ddp',")) << err;
  std::vector<std::string> calls;
  registry.register_strategy("recording", [&] { return std::make_shared<RecordingStrategy>(&calls); });
  Trainer trainer(quiet({.strategy = "recording", .max_steps = 1, .limit_val_batches = 0}));
  trainer.fit(std::make_shared<BoringModel>());
  EXPECT_NE(std::find(calls.begin(), calls.end(), "training_step"), calls.end());
  registry.remove("recording");
}

TEST(Strategies, SingleDeviceCollectivesReturnTheirInput) {
  SingleDeviceStrategy strategy;
  auto t = torch::tensor({1.5, 2.5});
  EXPECT_TRUE(torch::equal(strategy.reduce(t), t));
  EXPECT_TRUE(torch::equal(strategy.reduce(t, "sum"), t));
  EXPECT_TRUE(torch::equal(strategy.all_gather(t), t));
  EXPECT_TRUE(strategy.reduce_boolean_decision(true));
  EXPECT_FALSE(strategy.reduce_boolean_decision(false, /*all=*/false));
  EXPECT_EQ(strategy.broadcast(torch::IValue(int64_t{7})).toInt(), 7);
  EXPECT_NO_THROW(strategy.barrier("here"));
  auto err = error_of([&] { strategy.reduce(t, "avg"); });
  EXPECT_TRUE(contains(err, "reduce_op='avg' is invalid; accepted: 'mean', 'sum', 'max', 'min'")) << err;
  EXPECT_EQ(strategy.world_size(), 1);
  EXPECT_TRUE(strategy.is_global_zero());
  EXPECT_EQ(strategy.root_device(), torch::Device(torch::kCPU));
}

TEST(Strategies, AStrategyObjectBringsItsOwnPlugins) {
  auto io = std::make_shared<plugins::TorchCheckpointIO>();
  auto precision = std::make_shared<plugins::Precision>("bf16-mixed");
  auto strategy = std::make_shared<SingleDeviceStrategy>(std::nullopt, std::make_shared<accelerators::CPUAccelerator>(),
                                                         io, precision);
  Trainer trainer(quiet({.strategy = strategy}));
  EXPECT_EQ(&trainer.checkpoint_io(), io.get());
  EXPECT_EQ(&trainer.precision_plugin(), precision.get());
  EXPECT_EQ(trainer.accelerator().name(), "cpu");

  auto with_io = std::make_shared<SingleDeviceStrategy>(std::nullopt, nullptr, io);
  auto err = error_of([&] { Trainer t(quiet({.strategy = with_io, .plugins = {io}})); });
  EXPECT_TRUE(contains(err, "The CheckpointIO was given both by the strategy object and in `plugins`")) << err;
  auto with_precision = std::make_shared<SingleDeviceStrategy>(std::nullopt, nullptr, nullptr, precision);
  err = error_of([&] { Trainer t(quiet({.strategy = with_precision, .plugins = {precision}})); });
  EXPECT_TRUE(contains(err, "The precision plugin was given both")) << err;
  auto with_accelerator =
      std::make_shared<SingleDeviceStrategy>(std::nullopt, std::make_shared<accelerators::CPUAccelerator>());
  err = error_of([&] { Trainer t(quiet({.accelerator = "cpu", .strategy = with_accelerator})); });
  EXPECT_TRUE(contains(err, "accelerator='cpu' was given both by the strategy object and by the `accelerator` flag")) << err;
}

TEST(Strategies, AStrategyOnItsOwnDeviceKeepsIt) {
  auto strategy = std::make_shared<SingleDeviceStrategy>(torch::Device(torch::kCPU),
                                                         std::make_shared<accelerators::CPUAccelerator>());
  Trainer trainer(quiet({.strategy = strategy}));
  EXPECT_EQ(trainer.device(), torch::Device(torch::kCPU));
}

TEST(Strategies, LightningOptimizerStepNeedsAFit) {
  auto model = std::make_shared<BoringModel>();
  LightningOptimizer optimizer(std::make_shared<torch::optim::SGD>(model->parameters(), 0.1), model.get());
  auto err = error_of([&] { optimizer.step(); });
  EXPECT_TRUE(contains(err, "LightningOptimizer::step was called outside a Trainer's fit")) << err;
}

TEST(Strategies, TheModuleKnowsItsDevice) {
  auto model = std::make_shared<BoringModel>();
  EXPECT_EQ(model->device(), torch::Device(torch::kCPU));
  model->to(torch::Device(torch::kCPU), torch::kFloat64);
  EXPECT_EQ(model->device(), torch::Device(torch::kCPU));
  EXPECT_EQ(model->layer->weight.scalar_type(), torch::kFloat64);
}
