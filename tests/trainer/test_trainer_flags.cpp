// One behaviour test per Trainer flag: numbers of batches, steps, validation runs, hook calls.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// Counts steps and loop events; optionally records the first feature of each training batch.
struct CountingModel : BoringModel {
  int train_steps = 0, val_steps = 0, test_steps = 0, sanity_val_steps = 0;
  int val_runs = 0, train_loader_requests = 0, epochs_started = 0;
  std::vector<float> train_firsts;
  std::vector<bool> last_batch_flags;
  StepOutput training_step(const Batch& b, int64_t i) override {
    ++train_steps;
    train_firsts.push_back(b[0][0][0].item<float>());
    last_batch_flags.push_back(trainer().is_last_batch());
    return BoringModel::training_step(b, i);
  }
  StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
    ++val_steps;
    if (trainer().sanity_checking()) ++sanity_val_steps;
    return BoringModel::validation_step(b, i, d);
  }
  StepOutput test_step(const Batch& b, int64_t i, int64_t d) override {
    ++test_steps;
    return BoringModel::test_step(b, i, d);
  }
  void on_validation_start() override {
    if (!trainer().sanity_checking()) ++val_runs;
  }
  void on_train_epoch_start() override { ++epochs_started; }
  DataLoaders train_dataloader() override {
    ++train_loader_requests;
    return BoringModel::train_dataloader();
  }
};

std::shared_ptr<CountingModel> fit(TrainerOptions o, std::shared_ptr<CountingModel> m = nullptr) {
  if (!m) m = std::make_shared<CountingModel>();
  Trainer trainer(quiet(std::move(o)));
  trainer.fit(m);
  return m;
}

}  // namespace

TEST(TrainerFlags, MaxEpochs) {
  auto m = std::make_shared<CountingModel>();
  Trainer trainer(quiet({.max_epochs = 3, .limit_train_batches = 4, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(m->train_steps, 12);
  EXPECT_EQ(trainer.global_step(), 12);
  EXPECT_EQ(trainer.current_epoch(), 3);
  EXPECT_EQ(m->epochs_started, 3);
}

TEST(TrainerFlags, ResolvedLoopLimitsAreLightnings) {
  // Lightning 2.2's `_parse_loop_limits`, read back through the Trainer's properties.
  Trainer defaults{TrainerOptions{}};
  EXPECT_EQ(defaults.max_epochs(), 1000);
  EXPECT_EQ(defaults.min_epochs(), 0);
  EXPECT_EQ(defaults.max_steps(), -1);
  EXPECT_EQ(defaults.min_steps(), std::nullopt);
  Trainer steps({.max_steps = 10});
  EXPECT_EQ(steps.max_epochs(), -1);
  EXPECT_EQ(steps.min_epochs(), 0);
  EXPECT_EQ(steps.max_steps(), 10);
  Trainer min_steps({.min_steps = 5});
  EXPECT_EQ(min_steps.min_epochs(), 1);
  EXPECT_EQ(min_steps.max_epochs(), 1000);
  EXPECT_EQ(min_steps.min_steps(), 5);
  EXPECT_EQ(Trainer({.max_epochs = -1}).max_epochs(), -1);
  EXPECT_EQ(Trainer({.max_time = "00:00:01:00"}).max_epochs(), -1);
  EXPECT_EQ(Trainer({.callbacks = {std::make_shared<Timer>()}}).max_epochs(), -1);
  EXPECT_EQ(Trainer({.min_epochs = 3}).min_epochs(), 3);
}

TEST(TrainerFlags, MaxStepsStopsMidEpoch) {
  auto m = fit({.max_steps = 70, .limit_val_batches = 0});
  EXPECT_EQ(m->train_steps, 70);
  EXPECT_EQ(m->epochs_started, 2);
}

TEST(TrainerFlags, MinEpochsOverridesShouldStop) {
  struct StopAtOnce : CountingModel {
    void on_train_epoch_end() override { trainer().should_stop = true; }
  };
  auto m = std::make_shared<StopAtOnce>();
  Trainer trainer(quiet({.max_epochs = 10, .min_epochs = 3, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(trainer.current_epoch(), 3);
  EXPECT_EQ(m->train_steps, 6);
}

TEST(TrainerFlags, MinStepsOverridesShouldStop) {
  struct StopEveryBatch : CountingModel {
    void on_train_batch_end(const StepOutput&, const Batch&, int64_t) override { trainer().should_stop = true; }
  };
  auto m = std::make_shared<StopEveryBatch>();
  Trainer trainer(quiet({.max_epochs = 10, .min_steps = 5, .limit_train_batches = 2, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(trainer.global_step(), 5);
}

TEST(TrainerFlags, ShouldStopFromCallbackStopsAfterTheBatch) {
  struct Stopper : Callback {
    void on_train_batch_end(Trainer& t, LightningModule&, const StepOutput&, const Batch&, int64_t i) override {
      if (i == 2) t.should_stop = true;
    }
  };
  auto m = std::make_shared<CountingModel>();
  Trainer trainer(quiet({.callbacks = {std::make_shared<Stopper>()}, .max_epochs = 5, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(m->train_steps, 3);
  EXPECT_EQ(trainer.current_epoch(), 1);
}

TEST(TrainerFlags, MaxTimeStopsTraining) {
  struct Slow : CountingModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return CountingModel::training_step(b, i);
    }
  };
  auto m = std::make_shared<Slow>();
  Trainer trainer(quiet({.max_epochs = 100, .max_time = std::chrono::milliseconds(200), .limit_val_batches = 0}));
  trainer.fit(m);
  // Every step sleeps 20 ms, so 200 ms allow at most 10 (11 with the step the check ends); a loaded
  // machine may run fewer, but never the 64 an epoch has.
  EXPECT_GE(m->train_steps, 1);
  EXPECT_LE(m->train_steps, 11);
  EXPECT_EQ(trainer.current_epoch(), 1);
}

TEST(TrainerFlags, MaxTimeForms) {
  EXPECT_NO_THROW(Trainer({.max_time = "00:12:00:00"}));
  EXPECT_NO_THROW(Trainer({.max_time = std::map<std::string, int64_t>{{"days", 1}, {"hours", 5}}}));
  EXPECT_DOUBLE_EQ(MaxTime("01:02:03:04").seconds().count(), 86400 + 2 * 3600 + 3 * 60 + 4);
  EXPECT_DOUBLE_EQ(MaxTime(std::map<std::string, int64_t>{{"days", 1}, {"hours", 5}}).seconds().count(), 29 * 3600);
}

TEST(TrainerFlags, LimitTrainBatchesCountFractionAndZero) {
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 10, .limit_val_batches = 0})->train_steps, 10);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 0.25, .limit_val_batches = 0})->train_steps, 16);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1.0, .limit_val_batches = 0})->train_steps, 64);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0})->train_steps, 1);
  auto none = fit({.max_epochs = 1, .limit_train_batches = 0, .limit_val_batches = 0});
  EXPECT_EQ(none->train_steps, 0);
  EXPECT_EQ(none->epochs_started, 0);
}

TEST(TrainerFlags, LimitValBatches) {
  auto m = fit({.max_epochs = 2, .limit_train_batches = 2, .limit_val_batches = 0.5, .num_sanity_val_steps = 0});
  EXPECT_EQ(m->val_steps, 64);  // 32 per epoch
  EXPECT_EQ(m->val_runs, 2);
  auto off = fit({.max_epochs = 2, .limit_train_batches = 2, .limit_val_batches = 0});
  EXPECT_EQ(off->val_steps, 0);
}

TEST(TrainerFlags, LimitTestAndPredictBatches) {
  auto m = std::make_shared<CountingModel>();
  Trainer trainer(quiet({.limit_test_batches = 5, .limit_predict_batches = 0.5}));
  auto results = trainer.test(m, DataLoaders{}, std::nullopt, false);
  EXPECT_EQ(m->test_steps, 5);
  auto predictions = trainer.predict(m);
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_EQ(predictions[0].size(), 32u);
}

TEST(TrainerFlags, ValCheckIntervalFraction) {
  auto m = fit({.max_epochs = 1, .limit_train_batches = 16, .limit_val_batches = 2, .val_check_interval = 0.25,
                .num_sanity_val_steps = 0});
  EXPECT_EQ(m->val_runs, 4);
}

TEST(TrainerFlags, ValCheckIntervalIntAcrossEpochs) {
  auto m = fit({.max_epochs = 3, .limit_train_batches = 4, .limit_val_batches = 1, .val_check_interval = 5,
                .check_val_every_n_epoch = std::nullopt, .num_sanity_val_steps = 0});
  EXPECT_EQ(m->val_runs, 2);  // after total batches 5 and 10
}

TEST(TrainerFlags, ValCheckIntervalIntWithinEpoch) {
  auto m = fit({.max_epochs = 2, .limit_train_batches = 6, .limit_val_batches = 1, .val_check_interval = 3,
                .num_sanity_val_steps = 0});
  EXPECT_EQ(m->val_runs, 4);
}

TEST(TrainerFlags, CheckValEveryNEpoch) {
  auto m = fit({.max_epochs = 4, .limit_train_batches = 2, .limit_val_batches = 1, .check_val_every_n_epoch = 2,
                .num_sanity_val_steps = 0});
  EXPECT_EQ(m->val_runs, 2);
}

TEST(TrainerFlags, NumSanityValSteps) {
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 5})->sanity_val_steps, 2);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 5, .num_sanity_val_steps = 0})
                ->sanity_val_steps,
            0);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 5, .num_sanity_val_steps = 4})
                ->sanity_val_steps,
            4);
  EXPECT_EQ(fit({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 5, .num_sanity_val_steps = -1})
                ->sanity_val_steps,
            5);
}

TEST(TrainerFlags, FastDevRunTrue) {
  auto m = std::make_shared<CountingModel>();
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .fast_dev_run = true, .max_epochs = 10}));
  trainer.fit(m);
  EXPECT_EQ(m->train_steps, 1);
  EXPECT_EQ(m->val_steps, 1);
  EXPECT_EQ(m->sanity_val_steps, 0);
  EXPECT_EQ(trainer.current_epoch(), 1);
  EXPECT_TRUE(logger->rows.empty());  // fast_dev_run disables loggers
  trainer.test(m, DataLoaders{}, std::nullopt, false);
  EXPECT_EQ(m->test_steps, 1);
}

TEST(TrainerFlags, FastDevRunN) {
  auto m = fit({.fast_dev_run = 3, .max_epochs = 10});
  EXPECT_EQ(m->train_steps, 3);
  EXPECT_EQ(m->val_steps, 3);
  EXPECT_EQ(m->epochs_started, 1);
}

TEST(TrainerFlags, OverfitBatchesTurnsShufflingOffAndLimitsBatches) {
  struct Shuffled : CountingModel {
    DataLoaders train_dataloader() override {
      return DataLoader(random_dataset(), {.batch_size = 1, .shuffle = true});
    }
  };
  auto m = std::make_shared<Shuffled>();
  torch::manual_seed(0);
  fit({.max_epochs = 3, .limit_val_batches = 0, .overfit_batches = 4}, m);
  ASSERT_EQ(m->train_firsts.size(), 12u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(m->train_firsts[i], m->train_firsts[i + 4]);
    EXPECT_EQ(m->train_firsts[i], m->train_firsts[i + 8]);
  }
  // The same batches as the dataset's first four rows, in order.
  auto m2 = std::make_shared<Shuffled>();
  fit({.max_epochs = 1, .limit_val_batches = 0, .overfit_batches = 0.0625}, m2);
  EXPECT_EQ(m2->train_steps, 4);
}

TEST(TrainerFlags, ReloadDataloadersEveryNEpochs) {
  EXPECT_EQ(fit({.max_epochs = 3, .limit_train_batches = 1, .limit_val_batches = 0})->train_loader_requests, 1);
  EXPECT_EQ(fit({.max_epochs = 3, .limit_train_batches = 1, .limit_val_batches = 0,
                 .reload_dataloaders_every_n_epochs = 1})
                ->train_loader_requests,
            3);
  EXPECT_EQ(fit({.max_epochs = 4, .limit_train_batches = 1, .limit_val_batches = 0,
                 .reload_dataloaders_every_n_epochs = 2})
                ->train_loader_requests,
            2);
}

TEST(TrainerFlags, EstimatedSteppingBatchesSetsTheTrainLoaderUpOnce) {
  // As Lightning: the estimate sets the fit loop's data up, and the fit does not request it again.
  struct Estimating : CountingModel {
    int64_t estimated = -1;
    OptimizerConfig configure_optimizers() override {
      estimated = trainer().estimated_stepping_batches();
      return CountingModel::configure_optimizers();
    }
  };
  auto m = std::make_shared<Estimating>();
  fit({.max_epochs = 2, .limit_train_batches = 3, .limit_val_batches = 0}, m);
  EXPECT_EQ(m->estimated, 6);
  EXPECT_EQ(m->train_loader_requests, 1);
}

TEST(TrainerFlags, DefaultRootDirAndLogDir) {
  TempDir dir;
  Trainer trainer(quiet({.default_root_dir = dir.str()}));
  EXPECT_EQ(trainer.default_root_dir(), dir.str());
  EXPECT_EQ(trainer.log_dir(), dir.str());
  auto logger = std::make_shared<RecordingLogger>();
  logger->dir = dir.str() + "/version_0";
  Trainer with_logger({.logger = logger, .default_root_dir = dir.str()});
  EXPECT_EQ(with_logger.log_dir(), dir.str() + "/version_0");
}

TEST(TrainerFlags, EnableProgressBarAndModelSummary) {
  auto m = std::make_shared<CountingModel>();
  Trainer off(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0}));
  off.fit(m);
  EXPECT_EQ(off.progress_bar_callback(), nullptr);

  Trainer on({.logger = false, .max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0,
              .enable_checkpointing = false});
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  on.fit(m);
  auto out = ::testing::internal::GetCapturedStdout();
  ::testing::internal::GetCapturedStderr();
  EXPECT_NE(on.progress_bar_callback(), nullptr);
  EXPECT_NE(out.find("Trainable params"), std::string::npos) << out;
  EXPECT_NE(out.find("layer"), std::string::npos) << out;
}

TEST(TrainerFlags, InferenceMode) {
  struct CheckMode : CountingModel {
    bool inference = false, grad = true;
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      inference = c10::InferenceMode::is_enabled();
      grad = torch::GradMode::is_enabled();
      return CountingModel::validation_step(b, i, d);
    }
  };
  auto on = std::make_shared<CheckMode>();
  Trainer(quiet({.limit_val_batches = 1})).validate(on, DataLoaders{}, std::nullopt, false);
  EXPECT_TRUE(on->inference);
  auto off = std::make_shared<CheckMode>();
  Trainer(quiet({.limit_val_batches = 1, .inference_mode = false})).validate(off, DataLoaders{}, std::nullopt, false);
  EXPECT_FALSE(off->inference);
  EXPECT_FALSE(off->grad);
}

TEST(TrainerFlags, LogEveryNSteps) {
  struct Logs : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      auto loss = step(b[0]);
      log("loss", loss);
      return loss;
    }
  };
  auto logger = std::make_shared<RecordingLogger>();
  Trainer t2(quiet({.logger = logger, .max_epochs = 1, .limit_train_batches = 7, .limit_val_batches = 0,
                    .log_every_n_steps = 3}));
  t2.fit(std::make_shared<Logs>());
  std::vector<int64_t> steps;
  for (const auto& r : logger->rows) steps.push_back(*r.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(logger->hyperparams_calls, 0);  // no save_hyperparameters: Lightning skips log_hyperparams
  EXPECT_EQ(logger->finalized, std::vector<std::string>{"success"});
}

TEST(TrainerFlags, CallbacksAndConfigureCallbacksMerge) {
  struct Marker : Callback {
    int id;
    explicit Marker(int i) : id(i) {}
  };
  struct Other : Callback {};
  struct WithCallbacks : CountingModel {
    std::vector<std::shared_ptr<Callback>> configure_callbacks() override { return {std::make_shared<Marker>(2)}; }
  };
  Trainer trainer(quiet({.callbacks = {std::make_shared<Marker>(1), std::make_shared<Other>()},
                         .max_epochs = 1,
                         .limit_train_batches = 1,
                         .limit_val_batches = 0}));
  trainer.fit(std::make_shared<WithCallbacks>());
  ASSERT_EQ(trainer.callbacks().size(), 2u);
  EXPECT_NE(dynamic_cast<Other*>(trainer.callbacks()[0].get()), nullptr);
  auto* marker = dynamic_cast<Marker*>(trainer.callbacks()[1].get());
  ASSERT_NE(marker, nullptr);
  EXPECT_EQ(marker->id, 2);  // the module's callback replaced the trainer's of the same type
}

TEST(TrainerFlags, AcceleratorAndDevices) {
  EXPECT_EQ(Trainer({.accelerator = "cpu", .devices = 1}).device(), torch::Device(torch::kCPU));
  EXPECT_NO_THROW(Trainer({.accelerator = "auto", .devices = "auto"}));
  // Lightning's CPU accelerator takes a count, not a list of indices.
  auto err = error_of([] { Trainer({.accelerator = "cpu", .devices = std::vector<int>{0}}); });
  EXPECT_TRUE(contains(err, "devices=[0] is invalid with the CPUAccelerator")) << err;
}

TEST(TrainerFlags, OnTrainBatchStartMinusOneSkipsRestOfEpoch) {
  struct Skipper : CountingModel {
    int on_train_batch_start(const Batch&, int64_t i) override { return i == 3 ? -1 : 0; }
  };
  auto m = std::make_shared<Skipper>();
  fit({.max_epochs = 2, .limit_val_batches = 0}, m);
  EXPECT_EQ(m->train_steps, 6);
}

TEST(TrainerFlags, EstimatedSteppingBatchesAndIsLastBatch) {
  auto m = std::make_shared<CountingModel>();
  Trainer trainer(quiet({.max_epochs = 3, .limit_train_batches = 5, .limit_val_batches = 0}));
  trainer.fit(m);
  EXPECT_EQ(trainer.estimated_stepping_batches(), 15);
  EXPECT_EQ(m->last_batch_flags, (std::vector<bool>{false, false, false, false, true, false, false, false, false,
                                                    true, false, false, false, false, true}));
  Trainer capped(quiet({.max_epochs = 3, .max_steps = 7, .limit_train_batches = 5, .limit_val_batches = 0}));
  capped.fit(std::make_shared<CountingModel>());
  EXPECT_EQ(capped.estimated_stepping_batches(), 7);
  Trainer accumulate(quiet({.max_epochs = 2, .limit_train_batches = 5, .limit_val_batches = 0,
                            .accumulate_grad_batches = 2}));
  accumulate.fit(std::make_shared<CountingModel>());
  EXPECT_EQ(accumulate.estimated_stepping_batches(), 6);
  EXPECT_EQ(accumulate.global_step(), 6);  // groups {0,1} {2,3} {4}: the last, short group still steps
  // The map form counts its schedule: 8 batches a step at epochs 0-1, 3 at 2-3, 20 at 4 (8 batches).
  Trainer scheduled(quiet({.max_epochs = 5, .limit_train_batches = 8, .limit_val_batches = 0,
                           .accumulate_grad_batches = std::map<int, int>{{2, 3}, {4, 20}}}));
  auto model = std::make_shared<CountingModel>();
  scheduled.fit(model);
  EXPECT_EQ(scheduled.estimated_stepping_batches(), 8 + 8 + 3 + 3 + 1);
  EXPECT_EQ(scheduled.global_step(), 23);
}

TEST(TrainerFlags, CtrlCStopsFitGracefully) {
  struct Interrupting : CountingModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      if (i == 3) std::raise(SIGINT);
      return CountingModel::training_step(b, i);
    }
  };
  struct SeesException : Callback {
    int exceptions = 0;
    void on_exception(Trainer&, LightningModule&, const std::exception_ptr&) override { ++exceptions; }
  };
  auto m = std::make_shared<Interrupting>();
  auto cb = std::make_shared<SeesException>();
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer(quiet({.logger = logger, .callbacks = {cb}, .max_epochs = 3, .limit_val_batches = 0}));
  ::testing::internal::CaptureStderr();
  trainer.fit(m);
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(trainer.interrupted());
  EXPECT_EQ(trainer.state().status, TrainerStatus::Interrupted);
  EXPECT_EQ(to_string(trainer.state().status), "interrupted");
  EXPECT_EQ(m->train_steps, 4);
  EXPECT_EQ(cb->exceptions, 1);
  EXPECT_EQ(logger->finalized, std::vector<std::string>{"failed"});
  EXPECT_NE(err.find("KeyboardInterrupt"), std::string::npos);
}

TEST(TrainerFlags, DeterministicWeightsWithZeroAndTwoWorkers) {
  auto train = [](int workers) {
    seed_everything(123);
    auto data = std::make_shared<TensorDataset>(
        std::vector<torch::Tensor>{torch::randn({256, 32}), torch::randint(0, 2, {256})});
    DataLoader loader(data, {.batch_size = 16, .shuffle = true, .num_workers = workers});
    auto model = std::make_shared<BoringModel>();
    Trainer trainer(quiet({.max_epochs = 3, .limit_val_batches = 0}));
    ::testing::internal::CaptureStderr();
    trainer.fit(model, loader);
    ::testing::internal::GetCapturedStderr();
    return model->layer->weight.clone();
  };
  auto a = train(0), b = train(0), c = train(2);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a, c));
}

TEST(TrainerFlags, SecondCtrlCExitsAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct TwiceInterrupting : CountingModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      if (i == 1) {
        std::raise(SIGINT);
        std::raise(SIGINT);
      }
      return CountingModel::training_step(b, i);
    }
  };
  EXPECT_EXIT(
      {
        Trainer trainer(quiet({.max_epochs = 1, .limit_val_batches = 0}));
        trainer.fit(std::make_shared<TwiceInterrupting>());
      },
      ::testing::ExitedWithCode(130), "Second interrupt");
}

TEST(TrainerFlags, FitWithDatamoduleAndDirectLoaders) {
  struct DM : LightningDataModule {
    int setups = 0;
    void setup(const std::string&) override { ++setups; }
    DataLoaders train_dataloader() override { return random_loader(8); }
    DataLoaders val_dataloader() override { return DataLoaders{random_loader(3), random_loader(5)}; }
  };
  auto dm = std::make_shared<DM>();
  auto m = std::make_shared<CountingModel>();
  Trainer trainer(quiet({.max_epochs = 1, .num_sanity_val_steps = 0}));
  trainer.fit(m, dm);
  EXPECT_EQ(dm->setups, 1);
  EXPECT_EQ(m->train_steps, 8);
  EXPECT_EQ(m->val_steps, 8);
  EXPECT_EQ(trainer.num_val_batches(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(trainer.val_dataloaders().size(), 2u);
  // Direct loaders win over the module's hooks.
  auto m2 = std::make_shared<CountingModel>();
  Trainer direct(quiet({.max_epochs = 1, .num_sanity_val_steps = 0}));
  direct.fit(m2, random_loader(4), random_loader(2));
  EXPECT_EQ(m2->train_steps, 4);
  EXPECT_EQ(m2->val_steps, 2);
  EXPECT_EQ(m2->train_loader_requests, 0);
}

TEST(TrainerFlags, DefaultProgressBarPrintsPlainLinesWhenNotATerminal) {
  ::testing::internal::CaptureStderr();
  Trainer trainer({.logger = false, .max_epochs = 1, .limit_train_batches = 20, .limit_val_batches = 0,
                   .enable_checkpointing = false, .enable_model_summary = false});
  trainer.fit(std::make_shared<CountingModel>());
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find('\r'), std::string::npos);
  EXPECT_NE(err.find("Epoch 0: 100%"), std::string::npos) << err;
  EXPECT_NE(err.find("20/20"), std::string::npos) << err;
}

TEST(TrainerFlags, SanityCheckDoesNotChangeTrainingRandomness) {
  // The val loader is built inside the sanity check and draws its seed from the generator;
  // the training run must not notice (Lightning's isolate_rng).
  struct BuildsLoaders : BoringModel {
    DataLoaders val_dataloader() override { return DataLoader(random_dataset(8), {.shuffle = false}); }
    DataLoaders train_dataloader() override {
      return DataLoader(std::make_shared<TensorDataset>(std::vector<torch::Tensor>{torch::randn({64, 32})}),
                        {.batch_size = 4, .shuffle = true});
    }
  };
  auto train = [](int64_t sanity) {
    torch::manual_seed(7);
    auto m = std::make_shared<BuildsLoaders>();

    Trainer trainer(quiet({.max_epochs = 1, .limit_val_batches = 2, .num_sanity_val_steps = sanity}));
    trainer.fit(m);
    return m->layer->weight.clone();
  };
  EXPECT_TRUE(torch::equal(train(0), train(2)));
}

TEST(TrainerFlags, FitSkipsValidationWithoutValidationStep) {
  struct NoValStep : LightningModule {
    torch::nn::Linear layer{nullptr};
    int steps = 0;
    NoValStep() { layer = register_module("layer", torch::nn::Linear(32, 2)); }
    StepOutput training_step(const Batch& b, int64_t) override {
      ++steps;
      return layer->forward(b[0]).sum();
    }
    OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
    }
    DataLoaders train_dataloader() override { return random_loader(8); }
    DataLoaders val_dataloader() override { return random_loader(4); }
  };
  auto m = std::make_shared<NoValStep>();
  Trainer trainer(quiet({.max_epochs = 2}));
  ::testing::internal::CaptureStderr();
  trainer.fit(m);
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(m->steps, 16);
  EXPECT_NE(err.find("no `validation_step`"), std::string::npos) << err;
  EXPECT_EQ(trainer.state().status, TrainerStatus::Finished);
}
