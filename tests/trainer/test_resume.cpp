// Exact resume: a run stopped at an epoch boundary, mid-epoch or by SIGTERM and resumed from its
// checkpoint ends with bitwise the same weights as an uninterrupted run.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/optim/adam.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// Dropout (random), Adam (state), shuffled data: everything a resume must restore.
struct ResumeModel : LightningModule {
  torch::nn::Sequential net{nullptr};
  ResumeModel() {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(32, 16), torch::nn::ReLU(),
                                                       torch::nn::Dropout(0.3), torch::nn::Linear(16, 2)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  StepOutput training_step(const Batch& b, int64_t) override {
    return torch::nn::functional::mse_loss(forward(b[0]), b[1]);
  }
  StepOutput validation_step(const Batch& b, int64_t, int64_t) override {
    log("val_loss", torch::nn::functional::mse_loss(forward(b[0]), b[1]));
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-2));
  }
};

struct Run {
  std::shared_ptr<ResumeModel> model;
  DataLoader loader;
  DataLoader val_loader;
};

/// A fresh model and loaders after seeding with `seed` (a resumed run uses another seed: all
/// that matters must come from the checkpoint).
Run make_run(uint64_t seed, int workers = 0) {
  torch::manual_seed(0);
  auto data = std::make_shared<TensorDataset>(std::vector<torch::Tensor>{torch::randn({64, 32}), torch::randn({64, 2})});
  torch::manual_seed(seed);
  auto model = std::make_shared<ResumeModel>();
  DataLoader loader(data, {.batch_size = 4, .shuffle = true, .num_workers = workers});
  DataLoader val(data, {.batch_size = 16});
  return {model, loader, val};
}

torch::Tensor flat_weights(const LightningModule& m) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : m.parameters()) parts.push_back(p.detach().flatten());
  return torch::cat(parts);
}

TrainerOptions resume_options(TrainerOptions o) {
  o.deterministic = true;
  o.limit_val_batches = 0;
  return quiet(std::move(o));
}

/// 4 epochs of 16 batches, uninterrupted.
torch::Tensor uninterrupted() {
  static torch::Tensor weights = [] {
    auto r = make_run(7);
    Trainer trainer(resume_options({.max_epochs = 4}));
    ::testing::internal::CaptureStderr();
    trainer.fit(r.model, r.loader);
    ::testing::internal::GetCapturedStderr();
    return flat_weights(*r.model);
  }();
  return weights;
}

torch::Tensor resume_to_four_epochs(const std::string& ckpt_path, int workers = 0, Trainer** out = nullptr) {
  auto r = make_run(99, workers);
  Trainer trainer(resume_options({.max_epochs = 4}));
  ::testing::internal::CaptureStderr();
  trainer.fit(r.model, r.loader, {}, ckpt_path);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(trainer.current_epoch(), 4);
  EXPECT_EQ(trainer.global_step(), 64);
  return flat_weights(*r.model);
}

}  // namespace

TEST(Resume, AfterEpochTwoOfFourIsBitwiseIdentical) {
  TempDir dir;
  auto r = make_run(7);
  auto mc = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str(), .save_last = true});
  Trainer first(resume_options({.callbacks = {mc}, .max_epochs = 2, .enable_checkpointing = true}));
  ::testing::internal::CaptureStderr();
  first.fit(r.model, r.loader);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(mc->last_model_path, dir.file("last.ckpt"));
  EXPECT_EQ(mc->best_model_path, dir.file("epoch=1-step=32.ckpt"));
  EXPECT_FALSE(torch::equal(flat_weights(*make_run(99).model), uninterrupted()));
  EXPECT_TRUE(torch::equal(resume_to_four_epochs(dir.file("last.ckpt")), uninterrupted()));
}

TEST(Resume, MidEpochWithShuffleAndWorkersIsBitwiseIdentical) {
  TempDir dir;
  auto r = make_run(7, 2);
  auto mc = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir.str(), .save_top_k = -1, .every_n_train_steps = 7});
  // Stops in the middle of the second epoch (step 21 = batch 5 of 16).
  Trainer first(resume_options({.callbacks = {mc}, .max_steps = 21, .enable_checkpointing = true}));
  ::testing::internal::CaptureStderr();
  first.fit(r.model, r.loader);
  ::testing::internal::GetCapturedStderr();
  for (const char* name : {"epoch=0-step=7.ckpt", "epoch=0-step=14.ckpt", "epoch=1-step=21.ckpt"})
    EXPECT_TRUE(std::ifstream(dir.file(name)).good()) << name;
  EXPECT_TRUE(torch::equal(resume_to_four_epochs(dir.file("epoch=1-step=21.ckpt"), 2), uninterrupted()));
  EXPECT_TRUE(torch::equal(resume_to_four_epochs(dir.file("epoch=0-step=7.ckpt"), 0), uninterrupted()));
}

TEST(Resume, CheckpointHoldsLightningKeysAndProgress) {
  TempDir dir;
  auto r = make_run(7);
  Trainer trainer(resume_options({.max_steps = 21, .enable_checkpointing = true, .default_root_dir = dir.str()}));
  ::testing::internal::CaptureStderr();
  trainer.fit(r.model, r.loader);
  ::testing::internal::GetCapturedStderr();
  trainer.save_checkpoint(dir.file("manual.ckpt"));
  auto ckpt = torch_load(dir.file("manual.ckpt")).toGenericDict();
  for (const char* key : {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "optimizer_states",
                          "lr_schedulers", "loops", "callbacks"})
    EXPECT_TRUE(ckpt.contains(key)) << key;
  // max_steps ended epoch 1 after 5 batches; that epoch counts as completed (as in Lightning).
  EXPECT_EQ(ckpt.at("epoch").toInt(), 2);
  EXPECT_EQ(ckpt.at("global_step").toInt(), 21);
  EXPECT_EQ(ckpt.at("pytorch-lightning_version").toStringRef(), kLightningFormatVersion);
  EXPECT_EQ(ckpt.at("lightning_cpp_version").toStringRef(), kVersion);
  auto state = ckpt.at("state_dict").toGenericDict();
  for (const auto& item : r.model->named_parameters()) EXPECT_TRUE(state.contains(item.key())) << item.key();
  auto fit = ckpt.at("loops").toGenericDict().at("fit_loop").toGenericDict();
  auto batches = fit.at("epoch_loop.batch_progress").toGenericDict();
  EXPECT_EQ(batches.at("current").toGenericDict().at("completed").toInt(), 5);
  EXPECT_EQ(batches.at("total").toGenericDict().at("completed").toInt(), 21);
  EXPECT_EQ(fit.at("epoch_loop.state_dict").toGenericDict().at("_batches_that_stepped").toInt(), 21);
  auto adam = ckpt.at("optimizer_states").toListRef()[0].toGenericDict();
  auto groups = adam.at("param_groups").toListRef();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_DOUBLE_EQ(groups[0].toGenericDict().at("lr").toDouble(), 1e-2);
  EXPECT_EQ(groups[0].toGenericDict().at("params").toListRef().size(), 4u);
  auto first_state = adam.at("state").toGenericDict().at(0).toGenericDict();
  EXPECT_EQ(first_state.at("step").toTensor().item<double>(), 21.0);
  EXPECT_TRUE(first_state.contains("exp_avg") && first_state.contains("exp_avg_sq"));
  // The default ModelCheckpoint is on: its file is where Lightning puts it.
  EXPECT_TRUE(std::ifstream(dir.file("checkpoints/epoch=1-step=21.ckpt")).good());
}

TEST(Resume, SigtermSavesHpcCheckpointExitsWith143AndResumesExactly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The death test re-runs this test in a child process: both must use the same folder.
  std::optional<TempDir> own;
  const char* inherited = std::getenv("LIGHTNING_TEST_SIGTERM_DIR");
  if (!inherited) own.emplace();
  const std::string root = inherited ? std::string(inherited) : own->str();
  ::setenv("LIGHTNING_TEST_SIGTERM_DIR", root.c_str(), 1);
  struct SigtermAt : Callback {
    void on_train_batch_end(Trainer& t, LightningModule&, const StepOutput&, const Batch&, int64_t) override {
      if (t.global_step() == 23) std::raise(SIGTERM);
    }
  };
  EXPECT_EXIT(
      {
        auto r = make_run(7);
        Trainer trainer(resume_options(
            {.callbacks = {std::make_shared<SigtermAt>()}, .max_epochs = 4, .default_root_dir = root}));
        trainer.fit(r.model, r.loader);
      },
      ::testing::ExitedWithCode(143), "Received SIGTERM");
  ::unsetenv("LIGHTNING_TEST_SIGTERM_DIR");
  ASSERT_TRUE(std::ifstream(root + "/hpc_ckpt_1.ckpt").good());
  EXPECT_EQ(torch_load(root + "/hpc_ckpt_1.ckpt").toGenericDict().at("global_step").toInt(), 23);
  // Without ckpt_path, fit resumes from the HPC checkpoint (Lightning's requeue behaviour).
  auto r = make_run(99);
  Trainer trainer(resume_options({.max_epochs = 4, .default_root_dir = root}));
  ::testing::internal::CaptureStderr();
  trainer.fit(r.model, r.loader);
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "hpc_ckpt_1.ckpt")) << err;
  EXPECT_EQ(trainer.ckpt_path(), root + "/hpc_ckpt_1.ckpt");
  EXPECT_TRUE(torch::equal(flat_weights(*r.model), uninterrupted()));
}

TEST(Resume, LastAndBestPaths) {
  TempDir dir;
  auto r = make_run(7);
  auto mc = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir.str(), .monitor = "val_loss", .save_last = true, .save_top_k = 2});
  Trainer trainer(quiet({.callbacks = {mc}, .max_epochs = 3, .num_sanity_val_steps = 0, .enable_checkpointing = true}));
  ::testing::internal::CaptureStderr();
  trainer.fit(r.model, r.loader, r.val_loader);
  EXPECT_EQ(mc->best_k_models.size(), 2u);
  ASSERT_FALSE(mc->best_model_path.empty());
  // validate(ckpt_path="best") loads the best weights into the model first.
  torch::NoGradGuard no_grad;
  for (auto& p : r.model->parameters()) p.zero_();
  auto results = trainer.validate(r.model, r.val_loader, "best", false);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(trainer.ckpt_path(), mc->best_model_path);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NEAR(results[0].at("val_loss"), mc->best_model_score.item<double>(), 1e-6);

  // "last" resumes from last.ckpt: nothing left to train at max_epochs=3.
  Trainer again(quiet({.callbacks = {std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str()})},
                       .max_epochs = 3, .limit_val_batches = 0, .enable_checkpointing = true}));
  ::testing::internal::CaptureStderr();
  again.fit(r.model, r.loader, {}, "last");
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(again.ckpt_path(), dir.file("last.ckpt"));
  EXPECT_EQ(again.global_step(), 48);
}

TEST(Resume, BadCheckpointsAreClearErrors) {
  TempDir dir;
  auto r = make_run(7);
  // A missing file.
  auto err = error_of([&] { Trainer(quiet({.max_epochs = 1})).fit(r.model, r.loader, {}, dir.file("nope.ckpt")); });
  EXPECT_TRUE(contains(err, "nope.ckpt")) << err;
  // A checkpoint of another model: every mismatch in one message.
  auto other = std::make_shared<BoringModel>();
  Trainer saver(quiet({.max_steps = 1}));
  ::testing::internal::CaptureStderr();
  saver.fit(other);
  ::testing::internal::GetCapturedStderr();
  saver.save_checkpoint(dir.file("boring.ckpt"));
  err = error_of([&] { Trainer(quiet({.max_epochs = 1})).fit(r.model, r.loader, {}, dir.file("boring.ckpt")); });
  EXPECT_TRUE(contains(err, "boring.ckpt")) << err;
  EXPECT_TRUE(contains(err, "missing keys: net.0.weight")) << err;
  EXPECT_TRUE(contains(err, "unexpected keys: layer.weight")) << err;
  // A weights-only checkpoint cannot resume training.
  saver.save_checkpoint(dir.file("weights.ckpt"), /*weights_only=*/true);
  err = error_of([&] { Trainer(quiet({.max_epochs = 2})).fit(other, std::nullopt, {}, dir.file("weights.ckpt")); });
  EXPECT_TRUE(contains(err, "contains only the model")) << err;
  // ...but validate can load it.
  EXPECT_NO_THROW(Trainer(quiet({.limit_val_batches = 1})).validate(other, DataLoaders{}, dir.file("weights.ckpt"), false));
  // "best" without a ModelCheckpoint.
  err = error_of([&] { Trainer(quiet({.limit_val_batches = 1})).validate(other, DataLoaders{}, "best", false); });
  EXPECT_TRUE(contains(err, "ModelCheckpoint is not configured")) << err;
  // Not a checkpoint at all.
  std::ofstream(dir.file("junk.ckpt")) << "not a zip archive";
  err = error_of([&] { Trainer(quiet({.max_epochs = 1})).fit(other, std::nullopt, {}, dir.file("junk.ckpt")); });
  EXPECT_TRUE(contains(err, "junk.ckpt")) << err;
}

TEST(Resume, LoadFromCheckpointBuildsTheModel) {
  TempDir dir;
  struct WithHparams : BoringModel {
    explicit WithHparams(const Hyperparameters& h) { save_hyperparameters(h); }
  };
  auto model = std::make_shared<WithHparams>(Hyperparameters{{"lr", 0.5}, {"name", std::string("x")}});
  Trainer trainer(quiet({.max_steps = 2}));
  ::testing::internal::CaptureStderr();
  trainer.fit(model);
  ::testing::internal::GetCapturedStderr();
  trainer.save_checkpoint(dir.file("m.ckpt"));
  auto loaded = LightningModule::load_from_checkpoint<WithHparams>(dir.file("m.ckpt"));
  EXPECT_DOUBLE_EQ(loaded->hparams()["lr"].toDouble(), 0.5);
  EXPECT_EQ(loaded->hparams()["name"].toStringRef(), "x");
  EXPECT_TRUE(torch::equal(loaded->layer->weight, model->layer->weight));
  auto plain = LightningModule::load_from_checkpoint<BoringModel>(dir.file("m.ckpt"));
  EXPECT_TRUE(torch::equal(plain->layer->bias, model->layer->bias));
  // strict=false ignores keys the model lacks; strict=true names them.
  struct Bigger : BoringModel {
    torch::nn::Linear extra{nullptr};
    Bigger() { extra = register_module("extra", torch::nn::Linear(2, 2)); }
  };
  auto err = error_of([&] { LightningModule::load_from_checkpoint<Bigger>(dir.file("m.ckpt")); });
  EXPECT_TRUE(contains(err, "missing keys: extra.weight, extra.bias")) << err;
  EXPECT_NO_THROW(LightningModule::load_from_checkpoint<Bigger>(dir.file("m.ckpt"), {.strict = false}));
}

TEST(Resume, ValidationDueAtTheSavedBatchRunsAfterResuming) {
  TempDir dir;
  struct CountValidation : Callback {
    int runs = 0;
    void on_validation_end(Trainer& t, LightningModule&) override {
      if (!t.sanity_checking()) ++runs;
    }
  };
  auto r = make_run(7);
  auto mc = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir.str(), .save_top_k = -1, .every_n_train_steps = 8});
  // 16 batches, validation every 4: the checkpoint at step 8 is written before that step's validation.
  Trainer first(quiet({.callbacks = {mc}, .max_steps = 8, .val_check_interval = 4, .num_sanity_val_steps = 0,
                       .enable_checkpointing = true}));
  silenced([&] { first.fit(r.model, r.loader, r.val_loader); });
  auto counter = std::make_shared<CountValidation>();
  auto resumed = make_run(99);
  Trainer second(quiet({.callbacks = {counter}, .max_epochs = 1, .val_check_interval = 4, .num_sanity_val_steps = 0}));
  silenced([&] { second.fit(resumed.model, resumed.loader, resumed.val_loader, dir.file("epoch=0-step=8.ckpt")); });
  EXPECT_EQ(counter->runs, 3);  // after batches 8 (pending), 12 and 16
  EXPECT_EQ(second.global_step(), 16);
}

TEST(Resume, UnwritableCheckpointFolderIsAClearError) {
  TempDir dir;
  std::ofstream(dir.file("a_file")) << "x";
  auto mc = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.file("a_file/sub")});
  Trainer trainer(quiet({.callbacks = {mc}, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                         .enable_checkpointing = true}));
  auto err = error_of([&] { silenced([&] { trainer.fit(std::make_shared<BoringModel>()); }); });
  EXPECT_TRUE(contains(err, dir.file("a_file/sub"))) << err;
}
