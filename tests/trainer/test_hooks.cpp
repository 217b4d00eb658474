// The complete hook order of fit / validate / test / predict, checked against Lightning's
// documented order (tests_pytorch/models/test_hooks.py). Lightning's test records a hook when
// it returns; we record when it is entered, so a hook that calls others (optimizer_step runs
// the closure) appears before them here. Callback hooks run before module hooks (2.x order).
#include "helpers/boring_model.h"

#include <gtest/gtest.h>

#include <set>

using namespace lightning;
using namespace lightning::testing;

namespace {

using Calls = std::vector<std::string>;

struct HookedCallback : Callback {
  Calls* called;
  explicit HookedCallback(Calls* c) : called(c) {}
  void rec(const std::string& name) { called->push_back("Callback." + name); }
  void setup(Trainer&, LightningModule&, const std::string& stage) override { rec("setup:" + stage); }
  void teardown(Trainer&, LightningModule&, const std::string& stage) override { rec("teardown:" + stage); }
  void on_fit_start(Trainer&, LightningModule&) override { rec("on_fit_start"); }
  void on_fit_end(Trainer&, LightningModule&) override { rec("on_fit_end"); }
  void on_sanity_check_start(Trainer&, LightningModule&) override { rec("on_sanity_check_start"); }
  void on_sanity_check_end(Trainer&, LightningModule&) override { rec("on_sanity_check_end"); }
  void on_train_start(Trainer&, LightningModule&) override { rec("on_train_start"); }
  void on_train_end(Trainer&, LightningModule&) override { rec("on_train_end"); }
  void on_validation_start(Trainer&, LightningModule&) override { rec("on_validation_start"); }
  void on_validation_end(Trainer&, LightningModule&) override { rec("on_validation_end"); }
  void on_test_start(Trainer&, LightningModule&) override { rec("on_test_start"); }
  void on_test_end(Trainer&, LightningModule&) override { rec("on_test_end"); }
  void on_predict_start(Trainer&, LightningModule&) override { rec("on_predict_start"); }
  void on_predict_end(Trainer&, LightningModule&) override { rec("on_predict_end"); }
  void on_train_epoch_start(Trainer&, LightningModule&) override { rec("on_train_epoch_start"); }
  void on_train_epoch_end(Trainer&, LightningModule&) override { rec("on_train_epoch_end"); }
  void on_validation_epoch_start(Trainer&, LightningModule&) override { rec("on_validation_epoch_start"); }
  void on_validation_epoch_end(Trainer&, LightningModule&) override { rec("on_validation_epoch_end"); }
  void on_test_epoch_start(Trainer&, LightningModule&) override { rec("on_test_epoch_start"); }
  void on_test_epoch_end(Trainer&, LightningModule&) override { rec("on_test_epoch_end"); }
  void on_predict_epoch_start(Trainer&, LightningModule&) override { rec("on_predict_epoch_start"); }
  void on_predict_epoch_end(Trainer&, LightningModule&) override { rec("on_predict_epoch_end"); }
  void on_train_batch_start(Trainer&, LightningModule&, const Batch&, int64_t i) override {
    rec("on_train_batch_start:" + std::to_string(i));
  }
  void on_train_batch_end(Trainer&, LightningModule&, const StepOutput& out, const Batch&, int64_t i) override {
    EXPECT_TRUE(out.loss.defined());
    rec("on_train_batch_end:" + std::to_string(i));
  }
  void on_validation_batch_start(Trainer&, LightningModule&, const Batch&, int64_t i, int64_t) override {
    rec("on_validation_batch_start:" + std::to_string(i));
  }
  void on_validation_batch_end(Trainer&, LightningModule&, const StepOutput& out, const Batch&, int64_t i,
                               int64_t) override {
    EXPECT_TRUE(out.extras.count("x"));
    rec("on_validation_batch_end:" + std::to_string(i));
  }
  void on_test_batch_start(Trainer&, LightningModule&, const Batch&, int64_t i, int64_t) override {
    rec("on_test_batch_start:" + std::to_string(i));
  }
  void on_test_batch_end(Trainer&, LightningModule&, const StepOutput& out, const Batch&, int64_t i, int64_t) override {
    EXPECT_TRUE(out.extras.count("y"));
    rec("on_test_batch_end:" + std::to_string(i));
  }
  void on_predict_batch_start(Trainer&, LightningModule&, const Batch&, int64_t i, int64_t) override {
    rec("on_predict_batch_start:" + std::to_string(i));
  }
  void on_predict_batch_end(Trainer&, LightningModule&, const torch::IValue&, const Batch&, int64_t i,
                            int64_t) override {
    rec("on_predict_batch_end:" + std::to_string(i));
  }
  void on_before_backward(Trainer&, LightningModule&, const torch::Tensor&) override { rec("on_before_backward"); }
  void on_after_backward(Trainer&, LightningModule&) override { rec("on_after_backward"); }
  void on_before_optimizer_step(Trainer&, LightningModule&, torch::optim::Optimizer&) override {
    rec("on_before_optimizer_step");
  }
  void on_before_zero_grad(Trainer&, LightningModule&, torch::optim::Optimizer&) override {
    rec("on_before_zero_grad");
  }
};

struct HookedModel : BoringModel {
  Calls* called;
  /// Records "hook=<trainer.state().stage>" instead of the hook alone.
  bool with_stage = false;
  explicit HookedModel(Calls* c) : called(c) {}
  void rec(const std::string& name) {
    if (!with_stage) return called->push_back(name);
    const auto& stage = trainer().state().stage;
    called->push_back(name + "=" + (stage ? to_string(*stage) : "none"));
  }
  StepOutput training_step(const Batch& b, int64_t i) override {
    rec("training_step:" + std::to_string(i));
    return BoringModel::training_step(b, i);
  }
  StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
    rec("validation_step:" + std::to_string(i));
    return BoringModel::validation_step(b, i, d);
  }
  StepOutput test_step(const Batch& b, int64_t i, int64_t d) override {
    rec("test_step:" + std::to_string(i));
    return BoringModel::test_step(b, i, d);
  }
  torch::IValue predict_step(const Batch& b, int64_t i, int64_t d) override {
    rec("predict_step:" + std::to_string(i));
    return BoringModel::predict_step(b, i, d);
  }
  OptimizerConfig configure_optimizers() override {
    rec("configure_optimizers");
    return BoringModel::configure_optimizers();
  }
  std::vector<std::shared_ptr<Callback>> configure_callbacks() override {
    rec("configure_callbacks");
    return {};
  }
  void backward(const torch::Tensor& loss) override {
    rec("backward");
    BoringModel::backward(loss);
  }
  void optimizer_step(int64_t e, int64_t i, LightningOptimizer& o,
                      const std::function<torch::Tensor()>& closure) override {
    rec("optimizer_step:" + std::to_string(e) + ":" + std::to_string(i));
    BoringModel::optimizer_step(e, i, o, closure);
  }
  void optimizer_zero_grad(int64_t e, int64_t i, torch::optim::Optimizer& o) override {
    rec("optimizer_zero_grad:" + std::to_string(e) + ":" + std::to_string(i));
    BoringModel::optimizer_zero_grad(e, i, o);
  }
  void configure_gradient_clipping(torch::optim::Optimizer& o, std::optional<double> v,
                                   std::optional<std::string> a) override {
    rec("configure_gradient_clipping");
    EXPECT_FALSE(v.has_value());
    BoringModel::configure_gradient_clipping(o, v, a);
  }
  void on_before_backward(const torch::Tensor&) override { rec("on_before_backward"); }
  void on_after_backward() override { rec("on_after_backward"); }
  void on_before_optimizer_step(torch::optim::Optimizer&) override { rec("on_before_optimizer_step"); }
  void on_before_zero_grad(torch::optim::Optimizer&) override { rec("on_before_zero_grad"); }
  void setup(const std::string& stage) override { rec("setup:" + stage); }
  void teardown(const std::string& stage) override { rec("teardown:" + stage); }
  void prepare_data() override { rec("prepare_data"); }
  void configure_model() override { rec("configure_model"); }
  void on_fit_start() override { rec("on_fit_start"); }
  void on_fit_end() override { rec("on_fit_end"); }
  void on_train_start() override { rec("on_train_start"); }
  void on_train_end() override { rec("on_train_end"); }
  void on_validation_start() override { rec("on_validation_start"); }
  void on_validation_end() override { rec("on_validation_end"); }
  void on_test_start() override { rec("on_test_start"); }
  void on_test_end() override { rec("on_test_end"); }
  void on_predict_start() override { rec("on_predict_start"); }
  void on_predict_end() override { rec("on_predict_end"); }
  int on_train_batch_start(const Batch&, int64_t i) override {
    rec("on_train_batch_start:" + std::to_string(i));
    return 0;
  }
  void on_train_batch_end(const StepOutput&, const Batch&, int64_t i) override {
    rec("on_train_batch_end:" + std::to_string(i));
  }
  void on_validation_batch_start(const Batch&, int64_t i, int64_t) override {
    rec("on_validation_batch_start:" + std::to_string(i));
  }
  void on_validation_batch_end(const StepOutput&, const Batch&, int64_t i, int64_t) override {
    rec("on_validation_batch_end:" + std::to_string(i));
  }
  void on_test_batch_start(const Batch&, int64_t i, int64_t) override { rec("on_test_batch_start:" + std::to_string(i)); }
  void on_test_batch_end(const StepOutput&, const Batch&, int64_t i, int64_t) override {
    rec("on_test_batch_end:" + std::to_string(i));
  }
  void on_predict_batch_start(const Batch&, int64_t i, int64_t) override {
    rec("on_predict_batch_start:" + std::to_string(i));
  }
  void on_predict_batch_end(const torch::IValue&, const Batch&, int64_t i, int64_t) override {
    rec("on_predict_batch_end:" + std::to_string(i));
  }
  void on_train_epoch_start() override { rec("on_train_epoch_start"); }
  void on_train_epoch_end() override { rec("on_train_epoch_end"); }
  void on_validation_epoch_start() override { rec("on_validation_epoch_start"); }
  void on_validation_epoch_end() override { rec("on_validation_epoch_end"); }
  void on_test_epoch_start() override { rec("on_test_epoch_start"); }
  void on_test_epoch_end() override { rec("on_test_epoch_end"); }
  void on_predict_epoch_start() override { rec("on_predict_epoch_start"); }
  void on_predict_epoch_end() override { rec("on_predict_epoch_end"); }
  void on_validation_model_zero_grad() override {
    rec("on_validation_model_zero_grad");
    BoringModel::on_validation_model_zero_grad();
  }
  void on_validation_model_eval() override {
    rec("on_validation_model_eval");
    BoringModel::on_validation_model_eval();
  }
  void on_validation_model_train() override {
    rec("on_validation_model_train");
    BoringModel::on_validation_model_train();
  }
  void on_test_model_eval() override {
    rec("on_test_model_eval");
    BoringModel::on_test_model_eval();
  }
  void on_test_model_train() override {
    rec("on_test_model_train");
    BoringModel::on_test_model_train();
  }
  void on_predict_model_eval() override {
    rec("on_predict_model_eval");
    BoringModel::on_predict_model_eval();
  }
  DataLoaders train_dataloader() override {
    rec("train_dataloader");
    return BoringModel::train_dataloader();
  }
  DataLoaders val_dataloader() override {
    rec("val_dataloader");
    return BoringModel::val_dataloader();
  }
  DataLoaders test_dataloader() override {
    rec("test_dataloader");
    return BoringModel::test_dataloader();
  }
  DataLoaders predict_dataloader() override {
    rec("predict_dataloader");
    return BoringModel::predict_dataloader();
  }
  Batch on_before_batch_transfer(Batch b, int64_t) override {
    rec("on_before_batch_transfer");
    return b;
  }
  Batch transfer_batch_to_device(Batch b, const torch::Device& d, int64_t i) override {
    rec("transfer_batch_to_device");
    return BoringModel::transfer_batch_to_device(std::move(b), d, i);
  }
  Batch on_after_batch_transfer(Batch b, int64_t) override {
    rec("on_after_batch_transfer");
    return b;
  }
};

Calls transfer() { return {"on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"}; }

void append(Calls& out, const Calls& more) { out.insert(out.end(), more.begin(), more.end()); }

Calls train_batch(int64_t epoch, int64_t i) {
  auto s = std::to_string(i);
  auto e = std::to_string(epoch);
  Calls out = transfer();
  append(out, {"Callback.on_train_batch_start:" + s, "on_train_batch_start:" + s, "optimizer_step:" + e + ":" + s,
               "training_step:" + s, "Callback.on_before_zero_grad", "on_before_zero_grad",
               "optimizer_zero_grad:" + e + ":" + s, "Callback.on_before_backward", "on_before_backward", "backward",
               "Callback.on_after_backward", "on_after_backward", "Callback.on_before_optimizer_step",
               "on_before_optimizer_step", "configure_gradient_clipping", "Callback.on_train_batch_end:" + s,
               "on_train_batch_end:" + s});
  return out;
}

Calls eval_epoch(const std::string& fn, const std::string& step, int64_t batches) {
  Calls out{"Callback.on_" + fn + "_epoch_start", "on_" + fn + "_epoch_start"};
  for (int64_t i = 0; i < batches; ++i) {
    auto s = std::to_string(i);
    append(out, transfer());
    append(out, {"Callback.on_" + fn + "_batch_start:" + s, "on_" + fn + "_batch_start:" + s, step + ":" + s,
                 "Callback.on_" + fn + "_batch_end:" + s, "on_" + fn + "_batch_end:" + s});
  }
  append(out, {"Callback.on_" + fn + "_epoch_end", "on_" + fn + "_epoch_end"});
  return out;
}

/// Lightning calls on_validation_model_train after every validation run, validate() included.
Calls validation(int64_t batches) {
  Calls out;
  append(out, {"on_validation_model_eval", "Callback.on_validation_start", "on_validation_start"});
  append(out, eval_epoch("validation", "validation_step", batches));
  append(out, {"Callback.on_validation_end", "on_validation_end", "on_validation_model_train"});
  return out;
}

void expect_calls(const Calls& called, const Calls& expected) {
  for (size_t i = 0; i < std::max(called.size(), expected.size()); ++i) {
    ASSERT_LT(i, called.size()) << "missing from call " << i << ": " << expected[i];
    ASSERT_LT(i, expected.size()) << "unexpected call " << i << ": " << called[i];
    ASSERT_EQ(called[i], expected[i]) << "at call " << i;
  }
}

}  // namespace

TEST(Hooks, FitWithSanityCheckTwoEpochsAndValidationTwicePerEpoch) {
  Calls called;
  auto model = std::make_shared<HookedModel>(&called);
  Trainer trainer(quiet({.callbacks = {std::make_shared<HookedCallback>(&called)},
                         .max_epochs = 2,
                         .limit_train_batches = 4,
                         .limit_val_batches = 2,
                         .val_check_interval = 0.5}));
  trainer.fit(model);

  Calls expected{"configure_callbacks", "prepare_data", "Callback.setup:fit", "setup:fit", "configure_model",
                 "configure_optimizers", "Callback.on_fit_start", "on_fit_start", "Callback.on_sanity_check_start",
                 "val_dataloader"};
  append(expected, validation(2));
  append(expected, {"Callback.on_sanity_check_end", "train_dataloader", "Callback.on_train_start", "on_train_start"});
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    append(expected, {"Callback.on_train_epoch_start", "on_train_epoch_start"});
    for (int64_t i = 0; i < 4; ++i) {
      append(expected, train_batch(epoch, i));
      if (i % 2 == 1) {
        expected.push_back("on_validation_model_zero_grad");
        append(expected, validation(2));
      }
    }
    append(expected, {"Callback.on_train_epoch_end", "on_train_epoch_end"});
  }
  append(expected, {"Callback.on_train_end", "on_train_end", "Callback.on_fit_end", "on_fit_end",
                    "Callback.teardown:fit", "teardown:fit"});
  expect_calls(called, expected);
  EXPECT_EQ(trainer.global_step(), 8);
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(trainer.state().status, TrainerStatus::Finished);
  EXPECT_FALSE(trainer.state().stage.has_value());
}

TEST(Hooks, StageIsTheEntryPointsFromTheFirstHook) {
  Calls called;
  auto model = std::make_shared<HookedModel>(&called);
  model->with_stage = true;
  Trainer trainer(quiet({.max_epochs = 2,
                         .limit_train_batches = 2,
                         .limit_val_batches = 1,
                         .limit_test_batches = 1,
                         .num_sanity_val_steps = 0,
                         .reload_dataloaders_every_n_epochs = 1}));
  const std::set<std::string> watched = {"configure_callbacks", "prepare_data", "setup:fit", "setup:validate",
                                         "setup:test", "configure_optimizers", "on_fit_start", "train_dataloader",
                                         "val_dataloader", "on_validation_model_zero_grad",
                                         "on_validation_model_eval", "on_validation_start", "on_test_start"};
  auto watched_calls = [&] {
    Calls out;
    for (const auto& c : called)
      if (watched.count(c.substr(0, c.find('=')))) out.push_back(c);
    called.clear();
    return out;
  };
  trainer.fit(model);
  // Lightning 2.2.5's sequence with its stages (epoch 1 reloads both loaders; without a sanity
  // check the val loaders are requested before training, under the validating stage).
  expect_calls(watched_calls(),
               {"configure_callbacks=train", "prepare_data=train", "setup:fit=train", "configure_optimizers=train",
                "on_fit_start=train", "train_dataloader=train", "val_dataloader=validate",
                "on_validation_model_zero_grad=validate", "on_validation_model_eval=validate",
                "on_validation_start=validate", "train_dataloader=train", "on_validation_model_zero_grad=validate",
                "val_dataloader=validate", "on_validation_model_eval=validate", "on_validation_start=validate"});
  trainer.validate(model, DataLoaders{}, std::nullopt, false);
  trainer.test(model, DataLoaders{}, std::nullopt, false);
  expect_calls(watched_calls(),
               {"configure_callbacks=validate", "prepare_data=validate", "setup:validate=validate",
                "val_dataloader=validate", "on_validation_model_eval=validate", "on_validation_start=validate",
                "configure_callbacks=test", "prepare_data=test", "setup:test=test", "on_test_start=test"});
}

TEST(Hooks, ValidateAndTest) {
  for (std::string verb : {"validate", "test"}) {
    Calls called;
    auto model = std::make_shared<HookedModel>(&called);
    Trainer trainer(quiet({.callbacks = {std::make_shared<HookedCallback>(&called)},
                           .limit_val_batches = 2,
                           .limit_test_batches = 2}));
    Calls expected{"configure_callbacks", "prepare_data", "Callback.setup:" + verb, "setup:" + verb,
                   "configure_model"};
    if (verb == "validate") {
      trainer.validate(model, DataLoaders{}, std::nullopt, false);
      expected.push_back("val_dataloader");
      append(expected, validation(2));
    } else {
      trainer.test(model, DataLoaders{}, std::nullopt, false);
      append(expected, {"test_dataloader", "on_test_model_eval", "Callback.on_test_start", "on_test_start"});
      append(expected, eval_epoch("test", "test_step", 2));
      append(expected, {"Callback.on_test_end", "on_test_end", "on_test_model_train"});
    }
    append(expected, {"Callback.teardown:" + verb, "teardown:" + verb});
    expect_calls(called, expected);
  }
}

TEST(Hooks, EvaluationWithZeroBatchesRunsNoLoopHooks) {
  Calls called;
  auto model = std::make_shared<HookedModel>(&called);
  Trainer trainer(quiet({.callbacks = {std::make_shared<HookedCallback>(&called)}, .limit_test_batches = 0}));
  trainer.test(model, DataLoaders{}, std::nullopt, false);
  expect_calls(called, {"configure_callbacks", "prepare_data", "Callback.setup:test", "setup:test", "configure_model",
                        "test_dataloader", "Callback.teardown:test", "teardown:test"});
}

TEST(Hooks, Predict) {
  Calls called;
  auto model = std::make_shared<HookedModel>(&called);
  Trainer trainer(quiet({.callbacks = {std::make_shared<HookedCallback>(&called)}, .limit_predict_batches = 2}));
  auto predictions = trainer.predict(model);
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_EQ(predictions[0].size(), 2u);
  EXPECT_EQ(predictions[0][0].toTensor().sizes(), (std::vector<int64_t>{1, 2}));
  Calls expected{"configure_callbacks", "prepare_data", "Callback.setup:predict", "setup:predict", "configure_model",
                 "predict_dataloader", "on_predict_model_eval", "Callback.on_predict_start", "on_predict_start",
                 "Callback.on_predict_epoch_start", "on_predict_epoch_start"};
  for (int64_t i = 0; i < 2; ++i) {
    auto s = std::to_string(i);
    append(expected, transfer());
    append(expected, {"Callback.on_predict_batch_start:" + s, "on_predict_batch_start:" + s, "predict_step:" + s,
                      "Callback.on_predict_batch_end:" + s, "on_predict_batch_end:" + s});
  }
  append(expected, {"Callback.on_predict_epoch_end", "on_predict_epoch_end", "Callback.on_predict_end",
                    "on_predict_end", "Callback.teardown:predict", "teardown:predict"});
  expect_calls(called, expected);
}

TEST(Hooks, DatamoduleHooksInOrder) {
  struct HookedDataModule : LightningDataModule {
    Calls* called;
    explicit HookedDataModule(Calls* c) : called(c) {}
    void prepare_data() override { called->push_back("prepare_data"); }
    void setup(const std::string& s) override { called->push_back("setup:" + s); }
    void teardown(const std::string& s) override { called->push_back("teardown:" + s); }
    DataLoaders train_dataloader() override {
      called->push_back("train_dataloader");
      return random_loader();
    }
    DataLoaders val_dataloader() override {
      called->push_back("val_dataloader");
      return random_loader();
    }
    DataLoaders test_dataloader() override {
      called->push_back("test_dataloader");
      return random_loader();
    }
  };
  Calls called;
  auto dm = std::make_shared<HookedDataModule>(&called);
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 2, .limit_test_batches = 2}));
  trainer.fit(std::make_shared<BoringModel>(), dm);
  expect_calls(called, {"prepare_data", "setup:fit", "val_dataloader", "train_dataloader", "teardown:fit"});
  called.clear();
  trainer.test(std::make_shared<BoringModel>(), dm, std::nullopt, false);
  expect_calls(called, {"prepare_data", "setup:test", "test_dataloader", "teardown:test"});
}

TEST(Hooks, AccumulationStepsEverySecondBatch) {
  Calls called;
  auto model = std::make_shared<HookedModel>(&called);
  Trainer trainer(quiet({.callbacks = {std::make_shared<HookedCallback>(&called)},
                         .max_epochs = 1,
                         .limit_train_batches = 3,
                         .limit_val_batches = 0,
                         .accumulate_grad_batches = 2}));
  trainer.fit(model);
  auto backward = [] {
    return Calls{"Callback.on_before_backward", "on_before_backward", "backward", "Callback.on_after_backward",
                 "on_after_backward"};
  };
  auto zero_grad = [](int i) {
    return Calls{"Callback.on_before_zero_grad", "on_before_zero_grad", "optimizer_zero_grad:0:" + std::to_string(i)};
  };
  auto batch_start = [](int i) {
    Calls out = transfer();
    append(out, {"Callback.on_train_batch_start:" + std::to_string(i), "on_train_batch_start:" + std::to_string(i)});
    return out;
  };
  auto batch_end = [](int i) {
    return Calls{"Callback.on_train_batch_end:" + std::to_string(i), "on_train_batch_end:" + std::to_string(i)};
  };
  auto step_tail = Calls{"Callback.on_before_optimizer_step", "on_before_optimizer_step", "configure_gradient_clipping"};
  Calls expected{"configure_callbacks", "prepare_data", "Callback.setup:fit", "setup:fit", "configure_model",
                 "configure_optimizers", "Callback.on_fit_start", "on_fit_start", "train_dataloader",
                 "Callback.on_train_start", "on_train_start", "Callback.on_train_epoch_start", "on_train_epoch_start"};
  // Batch 0 accumulates: no optimizer step. Batch 1 steps without clearing gradients. Batch 2, the
  // last and short group, clears and steps.
  append(expected, batch_start(0));
  expected.push_back("training_step:0");
  append(expected, zero_grad(0));
  append(expected, backward());
  append(expected, batch_end(0));
  append(expected, batch_start(1));
  append(expected, {"optimizer_step:0:1", "training_step:1"});
  append(expected, backward());
  append(expected, step_tail);
  append(expected, batch_end(1));
  append(expected, batch_start(2));
  append(expected, {"optimizer_step:0:2", "training_step:2"});
  append(expected, zero_grad(2));
  append(expected, backward());
  append(expected, step_tail);
  append(expected, batch_end(2));
  append(expected, {"Callback.on_train_epoch_end", "on_train_epoch_end", "Callback.on_train_end", "on_train_end",
                    "Callback.on_fit_end", "on_fit_end", "Callback.teardown:fit", "teardown:fit"});
  expect_calls(called, expected);
  EXPECT_EQ(trainer.global_step(), 2);
}
