// ModelCheckpoint: file names, top-k, last, triggers, state, and bad options.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <thread>

using namespace lightning;
using namespace lightning::testing;

namespace {

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void fit_quietly(Trainer& trainer, std::shared_ptr<LightningModule> model) {
  silenced([&] { trainer.fit(std::move(model)); });
}

TrainerOptions with_checkpoint(std::shared_ptr<ModelCheckpoint> mc, int64_t epochs) {
  return quiet({.callbacks = {std::move(mc)}, .max_epochs = epochs, .limit_train_batches = 4, .limit_val_batches = 2,
                .num_sanity_val_steps = 0, .enable_checkpointing = true});
}

}  // namespace

TEST(ModelCheckpoint, DefaultSavesLastEpochUnderLogDirCheckpoints) {
  TempDir dir;
  Trainer trainer(quiet({.max_epochs = 2, .limit_train_batches = 4, .limit_val_batches = 0,
                         .enable_checkpointing = true, .default_root_dir = dir.str()}));
  fit_quietly(trainer, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(dir.file("checkpoints")), std::vector<std::string>{"epoch=1-step=8.ckpt"});
  ASSERT_NE(trainer.checkpoint_callback(), nullptr);
  EXPECT_EQ(trainer.checkpoint_callback()->best_model_path, dir.file("checkpoints/epoch=1-step=8.ckpt"));
  // With a logger, the folder is the logger's log_dir.
  auto logger = std::make_shared<RecordingLogger>();
  logger->dir = dir.file("logs/version_7");
  Trainer logged(quiet({.logger = logger, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                        .enable_checkpointing = true, .default_root_dir = dir.str()}));
  fit_quietly(logged, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(dir.file("logs/version_7/checkpoints")), std::vector<std::string>{"epoch=0-step=2.ckpt"});
}

TEST(ModelCheckpoint, TopKByMonitorWithMetricFilename) {
  TempDir dir;
  auto mc = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{
      .dirpath = dir.str(), .filename = "{epoch}-{val_loss:.2f}", .monitor = "val_loss", .save_top_k = 2});
  Trainer trainer(with_checkpoint(mc, 5));
  fit_quietly(trainer, std::make_shared<ScriptedValLoss>(std::vector<double>{0.5, 0.3, 0.4, 0.2, 0.9}));
  EXPECT_EQ(files_in(dir.str()), (std::vector<std::string>{"epoch=1-val_loss=0.30.ckpt", "epoch=3-val_loss=0.20.ckpt"}));
  EXPECT_EQ(mc->best_model_path, dir.file("epoch=3-val_loss=0.20.ckpt"));
  EXPECT_NEAR(mc->best_model_score.item<double>(), 0.2, 1e-6);
  EXPECT_EQ(mc->kth_best_model_path, dir.file("epoch=1-val_loss=0.30.ckpt"));
  EXPECT_NEAR(mc->kth_value.item<double>(), 0.3, 1e-6);
  EXPECT_EQ(mc->best_k_models.size(), 2u);
}

TEST(ModelCheckpoint, ModeMaxNoAutoInsertSaveLastAndAll) {
  TempDir dir;
  auto mc = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str(),
                                                                     .filename = "model_{epoch:02d}",
                                                                     .monitor = "val_loss",
                                                                     .save_last = true,
                                                                     .save_top_k = 1,
                                                                     .mode = "max",
                                                                     .auto_insert_metric_name = false});
  Trainer trainer(with_checkpoint(mc, 3));
  fit_quietly(trainer, std::make_shared<ScriptedValLoss>(std::vector<double>{0.5, 0.9, 0.1}));
  EXPECT_EQ(files_in(dir.str()), (std::vector<std::string>{"last.ckpt", "model_01.ckpt"}));
  EXPECT_EQ(mc->last_model_path, dir.file("last.ckpt"));
  // last.ckpt is the latest state: epoch 2.
  EXPECT_EQ(torch_load(dir.file("last.ckpt")).toGenericDict().at("epoch").toInt(), 2);

  TempDir all;
  auto every = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = all.str(), .save_top_k = -1});
  Trainer t2(with_checkpoint(every, 3));
  fit_quietly(t2, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(all.str()),
            (std::vector<std::string>{"epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt", "epoch=2-step=12.ckpt"}));

  TempDir none;
  auto zero = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = none.str(), .save_top_k = 0});
  Trainer t3(with_checkpoint(zero, 2));
  fit_quietly(t3, std::make_shared<BoringModel>());
  EXPECT_TRUE(files_in(none.str()).empty());
}

TEST(ModelCheckpoint, TriggersStepsEpochsTimeAndWeightsOnly) {
  TempDir steps;
  auto by_steps = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{
      .dirpath = steps.str(), .save_top_k = -1, .save_weights_only = true, .every_n_train_steps = 3});
  Trainer t1(with_checkpoint(by_steps, 2));
  fit_quietly(t1, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(steps.str()), (std::vector<std::string>{"epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt"}));
  auto weights = torch_load(steps.file("epoch=0-step=3.ckpt")).toGenericDict();
  EXPECT_FALSE(weights.contains("optimizer_states"));
  EXPECT_TRUE(weights.contains("state_dict"));

  TempDir epochs;
  auto by_epochs = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = epochs.str(), .save_top_k = -1, .every_n_epochs = 2});
  Trainer t2(with_checkpoint(by_epochs, 4));
  fit_quietly(t2, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(epochs.str()), (std::vector<std::string>{"epoch=1-step=8.ckpt", "epoch=3-step=16.ckpt"}));

  // Odd batches take 400 ms, even ones 10 ms, against an interval of 200 ms: a save after every
  // second batch, with ~190 ms to spare either way on a loaded machine.
  struct Slow : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(i % 2 ? 400 : 10));
      return BoringModel::training_step(b, i);
    }
  };
  TempDir timed;
  auto by_time = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{
      .dirpath = timed.str(), .save_top_k = -1, .train_time_interval = std::chrono::milliseconds(200)});
  Trainer t3(with_checkpoint(by_time, 1));
  fit_quietly(t3, std::make_shared<Slow>());
  EXPECT_EQ(files_in(timed.str()), (std::vector<std::string>{"epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpoint, VersionCounterAndNameFormatting) {
  TempDir dir;
  ModelCheckpoint mc({.dirpath = dir.str(), .filename = "{epoch}-{val_loss:.3f}-{missing}"});
  std::map<std::string, torch::Tensor> metrics{{"epoch", torch::tensor(int64_t{3})}, {"val_loss", torch::tensor(0.12345)}};
  EXPECT_EQ(mc.format_checkpoint_name(metrics), dir.file("epoch=3-val_loss=0.123-missing=0.ckpt"));
  EXPECT_EQ(mc.format_checkpoint_name(metrics, std::nullopt, 2), dir.file("epoch=3-val_loss=0.123-missing=0-v2.ckpt"));
  ModelCheckpoint plain({.filename = "{val_loss}"});
  EXPECT_EQ(plain.format_checkpoint_name({{"val_loss", torch::tensor(0.5)}}), "val_loss=0.5.ckpt");
  // An existing name gets -v1 instead of being overwritten.
  Trainer first(quiet({.callbacks = {std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str()})},
                       .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                       .enable_checkpointing = true}));
  fit_quietly(first, std::make_shared<BoringModel>());
  Trainer second(quiet({.callbacks = {std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str()})},
                        .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                        .enable_checkpointing = true}));
  fit_quietly(second, std::make_shared<BoringModel>());
  EXPECT_EQ(files_in(dir.str()), (std::vector<std::string>{"epoch=0-step=2-v1.ckpt", "epoch=0-step=2.ckpt"}));
}

TEST(ModelCheckpoint, StateIsSavedAndRestored) {
  TempDir dir;
  auto mc = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir.str(), .monitor = "val_loss", .save_last = true, .save_top_k = 2});
  EXPECT_EQ(mc->state_key(),
            "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
            "'train_time_interval': None}");
  Trainer trainer(with_checkpoint(mc, 3));
  fit_quietly(trainer, std::make_shared<ScriptedValLoss>(std::vector<double>{0.5, 0.3, 0.4, 0.1, 0.05}));
  auto saved = torch_load(dir.file("last.ckpt")).toGenericDict().at("callbacks").toGenericDict().at(mc->state_key());
  auto state = saved.toGenericDict();
  EXPECT_EQ(state.at("best_model_path").toStringRef(), dir.file("epoch=1-step=8.ckpt"));
  EXPECT_EQ(state.at("dirpath").toStringRef(), dir.str());
  EXPECT_EQ(state.at("best_k_models").toGenericDict().size(), 2u);

  auto restored = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.dirpath = dir.str(), .monitor = "val_loss", .save_last = true, .save_top_k = 2});
  Trainer resumed(with_checkpoint(restored, 5));
  ::testing::internal::CaptureStderr();
  resumed.fit(std::make_shared<ScriptedValLoss>(std::vector<double>{0.5, 0.3, 0.4, 0.1, 0.05}), std::nullopt, {},
              dir.file("last.ckpt"));
  ::testing::internal::GetCapturedStderr();
  // Top-2 continued across the resume: epochs 3 and 4 beat the restored 0.3 and 0.4.
  EXPECT_EQ(files_in(dir.str()),
            (std::vector<std::string>{"epoch=3-step=16.ckpt", "epoch=4-step=20.ckpt", "last.ckpt"}));
  EXPECT_EQ(restored->best_model_path, dir.file("epoch=4-step=20.ckpt"));
}

TEST(ModelCheckpoint, MissingMonitorAndBadOptionsAreClearErrors) {
  TempDir dir;
  auto mc = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{.dirpath = dir.str(), .monitor = "nope"});
  auto err = error_of([&] {
    Trainer trainer(with_checkpoint(mc, 1));
    trainer.fit(std::make_shared<ScriptedValLoss>(std::vector<double>{0.5}));
  });
  EXPECT_TRUE(contains(err, "ModelCheckpoint(monitor='nope') could not find the monitored key")) << err;
  EXPECT_TRUE(contains(err, "'val_loss'")) << err;

  auto bad = [](ModelCheckpointOptions o) { return error_of([&] { ModelCheckpoint mc(std::move(o)); }); };
  EXPECT_TRUE(contains(bad({.mode = "middle"}), "mode='middle'"));
  EXPECT_TRUE(contains(bad({.save_top_k = -2}), "save_top_k=-2"));
  EXPECT_TRUE(contains(bad({.save_top_k = 3}), "save_top_k=3, monitor=None"));
  EXPECT_TRUE(contains(bad({.every_n_train_steps = -1}), "every_n_train_steps=-1"));
  EXPECT_TRUE(contains(bad({.every_n_train_steps = 2, .every_n_epochs = 1}), "mutually exclusive"));
  std::ofstream(dir.file("afile")) << "x";
  EXPECT_TRUE(contains(bad({.dirpath = dir.file("afile")}), "is a file"));
  err = error_of([] { Trainer t({.callbacks = {std::make_shared<ModelCheckpoint>()}, .enable_checkpointing = false}); });
  EXPECT_TRUE(contains(err, "enable_checkpointing=false")) << err;
}

TEST(ModelCheckpoint, OnExceptionCheckpointSavesWhenFitFails) {
  TempDir dir;
  struct Failing : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      if (i == 3) throw std::runtime_error("boom");
      return BoringModel::training_step(b, i);
    }
  };
  Trainer trainer(quiet({.callbacks = {std::make_shared<OnExceptionCheckpoint>(dir.str())}, .max_epochs = 1}));
  EXPECT_THROW(fit_quietly(trainer, std::make_shared<Failing>()), std::runtime_error);
  auto ckpt = torch_load(dir.file("on_exception.ckpt")).toGenericDict();
  EXPECT_EQ(ckpt.at("global_step").toInt(), 3);
  EXPECT_TRUE(contains(error_of([] { OnExceptionCheckpoint c(""); }), "dirpath=''"));
}
