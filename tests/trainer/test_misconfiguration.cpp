// Every invalid flag value throws MisconfigurationException naming the flag, the value and
// what is accepted, before training starts.
#include "helpers/boring_model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <new>

using namespace lightning;
using namespace lightning::testing;

namespace {

struct Case {
  std::string label;
  std::function<void()> run;
  std::vector<std::string> expected;  // substrings of the message
};

void expect_misconfiguration(const Case& c) {
  try {
    c.run();
    ADD_FAILURE() << c.label << ": no exception";
  } catch (const MisconfigurationException& e) {
    std::string message = e.what();
    for (const auto& s : c.expected)
      EXPECT_NE(message.find(s), std::string::npos) << c.label << ": '" << s << "' not in: " << message;
    EXPECT_NE(message.find("accepted"), std::string::npos) << c.label << ": " << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << c.label << ": wrong exception type: " << e.what();
  }
}

void make(TrainerOptions o) { Trainer t(std::move(o)); }

void fit(TrainerOptions o, std::shared_ptr<LightningModule> model = std::make_shared<BoringModel>()) {
  Trainer t(quiet(std::move(o)));
  t.fit(std::move(model));
}

}  // namespace

TEST(Misconfiguration, EveryInvalidFlagValueIsNamed) {
  std::vector<Case> cases = {
      {"limit_train_batches 1.5", [] { make({.limit_train_batches = 1.5}); }, {"limit_train_batches=1.5"}},
      {"limit_train_batches -3", [] { make({.limit_train_batches = -3}); }, {"limit_train_batches=-3"}},
      {"limit_val_batches -0.1", [] { make({.limit_val_batches = -0.1}); }, {"limit_val_batches=-0.1"}},
      {"limit_test_batches 2.5", [] { make({.limit_test_batches = 2.5}); }, {"limit_test_batches=2.5"}},
      {"limit_predict_batches -1", [] { make({.limit_predict_batches = -1}); }, {"limit_predict_batches=-1"}},
      {"overfit_batches -2", [] { make({.overfit_batches = -2}); }, {"overfit_batches=-2"}},
      {"max_time bad", [] { make({.max_time = "1:xx"}); }, {"max_time=\"1:xx\"", "DD:HH:MM:SS"}},
      {"max_time dict key", [] { make({.max_time = std::map<std::string, int64_t>{{"weeks", 1}}}); }, {"weeks"}},
      {"max_time negative", [] { make({.max_time = std::chrono::seconds(-5)}); }, {"max_time"}},
      {"accelerator tpu", [] { make({.accelerator = "tpu"}); }, {"accelerator='tpu'"}},
      {"strategy", [] { make({.strategy = "deepspeed"}); }, {"strategy='deepspeed'"}},
      {"devices 0", [] { make({.devices = 0}); }, {"devices=0"}},
      {"devices string", [] { make({.devices = "abc"}); }, {"devices='abc'"}},
      {"num_nodes", [] { make({.num_nodes = 0}); }, {"num_nodes=0"}},
      {"precision", [] { make({.precision = "fp8"}); }, {"precision='fp8'"}},
      {"fast_dev_run -1", [] { make({.fast_dev_run = -1}); }, {"fast_dev_run=-1"}},
      {"sampler flags contradict", [] { make({.use_distributed_sampler = true, .replace_sampler_ddp = false}); },
       {"use_distributed_sampler=true", "replace_sampler_ddp=false"}},
      {"max_epochs -2", [] { make({.max_epochs = -2}); }, {"max_epochs=-2"}},
      {"min_epochs -1", [] { make({.min_epochs = -1}); }, {"min_epochs=-1"}},
      {"min > max epochs", [] { make({.max_epochs = 2, .min_epochs = 3}); }, {"min_epochs=3", "max_epochs=2"}},
      {"max_steps -5", [] { make({.max_steps = -5}); }, {"max_steps=-5"}},
      {"min_steps -1", [] { make({.min_steps = -1}); }, {"min_steps=-1"}},
      {"val_check_interval 0", [] { make({.val_check_interval = 0}); }, {"val_check_interval=0"}},
      {"val_check_interval 1.5", [] { make({.val_check_interval = 1.5}); }, {"val_check_interval=1.5"}},
      {"check_val_every_n_epoch 0", [] { make({.check_val_every_n_epoch = 0}); }, {"check_val_every_n_epoch=0"}},
      {"num_sanity_val_steps -2", [] { make({.num_sanity_val_steps = -2}); }, {"num_sanity_val_steps=-2"}},
      {"log_every_n_steps -1", [] { make({.log_every_n_steps = -1}); }, {"log_every_n_steps=-1"}},
      {"accumulate 0", [] { make({.accumulate_grad_batches = 0}); }, {"accumulate_grad_batches=0"}},
      {"clip -1", [] { make({.gradient_clip_val = -1.0}); }, {"gradient_clip_val=-1"}},
      {"clip algorithm", [] { make({.gradient_clip_algorithm = "max"}); }, {"gradient_clip_algorithm='max'"}},
      {"deterministic", [] { make({.deterministic = "sometimes"}); }, {"deterministic='sometimes'"}},
      {"reload -1", [] { make({.reload_dataloaders_every_n_epochs = -1}); }, {"reload_dataloaders_every_n_epochs=-1"}},
      {"barebones + bar", [] { make({.enable_progress_bar = true, .barebones = true}); }, {"enable_progress_bar"}},
      {"bar off but given", [] { make({.callbacks = {std::make_shared<TQDMProgressBar>()}, .enable_progress_bar = false}); },
       {"enable_progress_bar=false"}},
      {"checkpointing off but given",
       [] { make({.callbacks = {std::make_shared<ModelCheckpoint>()}, .enable_checkpointing = false}); },
       {"enable_checkpointing=false", "ModelCheckpoint"}},
      {"val_check_interval > epoch",
       [] { fit({.max_epochs = 1, .limit_train_batches = 4, .val_check_interval = 10}); },
       {"val_check_interval=10", "4"}},
      {"limit fraction below one batch", [] { fit({.max_epochs = 1, .limit_train_batches = 0.001}); },
       {"limit_train_batches=0.001"}},
      {"missing configure_optimizers",
       [] {
         struct NoOptim : BoringModel {
           OptimizerConfig configure_optimizers() override { return LightningModule::configure_optimizers(); }
         };
         fit({.max_epochs = 1}, std::make_shared<NoOptim>());
       },
       {"configure_optimizers"}},
      {"non-scalar loss",
       [] {
         struct VectorLoss : BoringModel {
           StepOutput training_step(const Batch& b, int64_t) override { return layer->forward(b[0]).sum(0); }
         };
         fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0}, std::make_shared<VectorLoss>());
       },
       {"training_step", "[2]"}},
      {"missing training_step",
       [] {
         struct NoStep : LightningModule {
           torch::nn::Linear l{nullptr};
           NoStep() { l = register_module("l", torch::nn::Linear(32, 2)); }
           OptimizerConfig configure_optimizers() override {
             return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
           }
         };
         Trainer t(quiet({.max_epochs = 1}));
         t.fit(std::make_shared<NoStep>(), random_loader());
       },
       {"training_step"}},
      {"no train dataloader",
       [] {
         struct NoData : BoringModel {
           DataLoaders train_dataloader() override { return {}; }
         };
         fit({.max_epochs = 1}, std::make_shared<NoData>());
       },
       {"train dataloader"}},
      {"iterable with fractional limit",
       [] {
         struct Stream : IterableDataset {
           int i = 0;
           void reset() override { i = 0; }
           std::optional<Batch> next() override {
             if (i >= 8) return std::nullopt;
             ++i;
             return Batch{torch::randn({32})};
           }
         };
         Trainer t(quiet({.max_epochs = 1, .limit_train_batches = 0.5}));
         t.fit(std::make_shared<BoringModel>(), DataLoader(std::make_shared<Stream>(), {.batch_size = 2}));
       },
       {"limit_train_batches=0.5", "IterableDataset"}},
      {"validate without validation_step",
       [] {
         struct NoVal : LightningModule {
           DataLoaders val_dataloader() override { return random_loader(); }
         };
         Trainer t(quiet({}));
         t.validate(std::make_shared<NoVal>(), DataLoaders{}, std::nullopt, false);
       },
       {"validation_step"}},
      {"test without test_step",
       [] {
         struct NoTest : LightningModule {
           DataLoaders test_dataloader() override { return random_loader(); }
         };
         Trainer t(quiet({}));
         t.test(std::make_shared<NoTest>(), DataLoaders{}, std::nullopt, false);
       },
       {"test_step"}},
  };
  EXPECT_GE(cases.size(), 20u);
  for (const auto& c : cases) expect_misconfiguration(c);
}

TEST(Misconfiguration, NothingRunsBeforeTheErrorForBadFlags) {
  // Flags are validated in the constructor: no hook of the model can have run.
  EXPECT_THROW(Trainer({.limit_train_batches = 1.5}), MisconfigurationException);
}

// Found by command_line_fuzzer under UBSan: the sampler flags' message was formatted from both
// optionals even when unset, reading whatever bytes their storage held. Options built on memory
// full of 0x64 (not a bool) make any such read a UBSan report in the asan tree.
TEST(Misconfiguration, UnsetOptionalFlagsAreNeverRead) {
  alignas(TrainerOptions) unsigned char storage[sizeof(TrainerOptions)];
  std::memset(storage, 0x64, sizeof storage);
  auto* options = new (storage) TrainerOptions{};
  options->enable_progress_bar = false;
  options->enable_model_summary = false;
  options->logger = false;
  ASSERT_FALSE(options->use_distributed_sampler.has_value());
  ASSERT_FALSE(options->replace_sampler_ddp.has_value());
  EXPECT_NO_THROW(Trainer trainer(*options));
  options->~TrainerOptions();
}
