// Trainer::add_argparse_args / options_from_argparse_args / from_argparse_args: every flag's value
// forms, --help, the Trainer's own messages for bad values, unknown flags.
#include "cli/trainer_flags.h"
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <lightning/callbacks/registry.h>
#include <lightning/plugins/checkpoint_io.h>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace lightning;
using namespace lightning::testing;

namespace {

// CLI11 parses a vector given last argument first.
void parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());
  app.parse(args);
}

TrainerOptions options_of(std::vector<std::string> args, TrainerOptions defaults = {}) {
  CLI::App app{"test"};
  Trainer::add_argparse_args(app);
  parse(app, std::move(args));
  return Trainer::options_from_argparse_args(app, std::move(defaults));
}

std::string error_for(std::vector<std::string> args) {
  return error_of([&] {
    CLI::App app{"test"};
    Trainer::add_argparse_args(app);
    parse(app, args);
    silenced([&] { Trainer::from_argparse_args(app); });
  });
}

template <typename T>
const T* as(const std::shared_ptr<Callback>& c) {
  return dynamic_cast<const T*>(c.get());
}

}  // namespace

TEST(ArgParse, TheTableHasEveryTrainerFlagInTrainerOptionsOrder) {
  // TrainerOptions' fields, in declaration order: a flag added there must be added to the table.
  const std::vector<std::string> fields = {"accelerator",
                                           "strategy",
                                           "devices",
                                           "num_nodes",
                                           "precision",
                                           "logger",
                                           "callbacks",
                                           "fast_dev_run",
                                           "max_epochs",
                                           "min_epochs",
                                           "max_steps",
                                           "min_steps",
                                           "max_time",
                                           "limit_train_batches",
                                           "limit_val_batches",
                                           "limit_test_batches",
                                           "limit_predict_batches",
                                           "overfit_batches",
                                           "track_grad_norm",
                                           "val_check_interval",
                                           "check_val_every_n_epoch",
                                           "num_sanity_val_steps",
                                           "log_every_n_steps",
                                           "enable_checkpointing",
                                           "enable_progress_bar",
                                           "enable_model_summary",
                                           "accumulate_grad_batches",
                                           "gradient_clip_val",
                                           "gradient_clip_algorithm",
                                           "deterministic",
                                           "benchmark",
                                           "inference_mode",
                                           "use_distributed_sampler",
                                           "replace_sampler_ddp",
                                           "profiler",
                                           "detect_anomaly",
                                           "auto_scale_batch_size",
                                           "barebones",
                                           "plugins",
                                           "sync_batchnorm",
                                           "reload_dataloaders_every_n_epochs",
                                           "auto_lr_find",
                                           "default_root_dir"};
  EXPECT_EQ(cli::detail::trainer_flag_names(), fields);
}

TEST(ArgParse, BatchLimitsAreCountsOrFractionsAsLightningReadsThem) {
  auto o = options_of({"--limit_train_batches", "0.25", "--limit_val_batches", "10", "--limit_test_batches", "10.0",
                       "--limit_predict_batches", "0", "--overfit_batches", "3", "--val_check_interval", "0.5"});
  EXPECT_EQ(std::get<double>(o.limit_train_batches->value), 0.25);
  EXPECT_EQ(std::get<int64_t>(o.limit_val_batches->value), 10);
  EXPECT_EQ(std::get<double>(o.limit_test_batches->value), 10.0);  // a float; the Trainer counts 10 batches
  EXPECT_EQ(std::get<int64_t>(o.limit_predict_batches->value), 0);
  EXPECT_EQ(std::get<int64_t>(o.overfit_batches.value), 3);
  EXPECT_EQ(std::get<double>(o.val_check_interval->value), 0.5);
  EXPECT_FALSE(options_of({}).limit_train_batches.has_value());
  EXPECT_FALSE(options_of({"--val_check_interval", "null"}).val_check_interval.has_value());
}

TEST(ArgParse, DevicesPrecisionAcceleratorStrategyForms) {
  EXPECT_EQ(std::get<std::string>(options_of({"--devices", "0,1"}).devices.value), "0,1");
  EXPECT_EQ(std::get<std::string>(options_of({"--devices", "auto"}).devices.value), "auto");
  EXPECT_EQ(std::get<int64_t>(options_of({"--devices", "2"}).devices.value), 2);
  EXPECT_EQ(std::get<int64_t>(options_of({"--devices", "-1"}).devices.value), -1);
  EXPECT_EQ(std::get<std::vector<int>>(options_of({"--devices", "[1, 3]"}).devices.value), (std::vector<int>{1, 3}));
  EXPECT_EQ(options_of({"--precision", "bf16-mixed"}).precision.value, "bf16-mixed");
  EXPECT_EQ(options_of({"--precision", "16"}).precision.value, "16");
  auto o = options_of({"--accelerator", "cpu", "--strategy", "ddp_spawn", "--num_nodes", "2"});
  EXPECT_EQ(o.accelerator.name, "cpu");
  EXPECT_EQ(o.strategy.name, "ddp_spawn");
  EXPECT_EQ(o.num_nodes, 2);
}

TEST(ArgParse, LoopLimitsTimeAndAccumulation) {
  auto o = options_of({"--max_epochs", "5", "--min_epochs", "1", "--max_steps", "100", "--min_steps", "3", "--max_time",
                       "00:12:00:00", "--accumulate_grad_batches", "{5: 3, 10: 20}"});
  EXPECT_EQ(o.max_epochs, 5);
  EXPECT_EQ(o.min_epochs, 1);
  EXPECT_EQ(o.max_steps, 100);
  EXPECT_EQ(o.min_steps, 3);
  EXPECT_EQ(std::get<std::string>(o.max_time->value), "00:12:00:00");
  EXPECT_EQ(o.max_time->seconds().count(), 12 * 3600);
  EXPECT_EQ(o.accumulate_grad_batches.schedule, (std::map<int, int>{{5, 3}, {10, 20}}));
  EXPECT_EQ(options_of({"--accumulate_grad_batches", "4"}).accumulate_grad_batches.factor, 4);
  auto parts = options_of({"--max_time", "{days: 1, hours: 5}"}).max_time;
  EXPECT_EQ(parts->seconds().count(), 29 * 3600);
  EXPECT_EQ(options_of({"--max_epochs", "null"}).max_epochs, std::nullopt);
}

TEST(ArgParse, BoolFlagsTakeLightningsSpellingsAndStandAlone) {
  auto o = options_of({"--enable_checkpointing", "false", "--enable_progress_bar", "--enable_model_summary", "no",
                       "--benchmark", "True", "--inference_mode", "0", "--use_distributed_sampler", "off",
                       "--replace_sampler_ddp", "yes", "--detect_anomaly", "--barebones", "f", "--sync_batchnorm"});
  EXPECT_EQ(o.enable_checkpointing, false);
  EXPECT_EQ(o.enable_progress_bar, true);
  EXPECT_EQ(o.enable_model_summary, false);
  EXPECT_EQ(o.benchmark, true);
  EXPECT_FALSE(o.inference_mode);
  EXPECT_EQ(o.use_distributed_sampler, false);
  EXPECT_EQ(o.replace_sampler_ddp, true);
  EXPECT_TRUE(o.detect_anomaly);
  EXPECT_FALSE(o.barebones);
  EXPECT_TRUE(o.sync_batchnorm);
  EXPECT_EQ(options_of({"--fast_dev_run"}).fast_dev_run.batches, 1);
  EXPECT_EQ(options_of({"--fast_dev_run", "5"}).fast_dev_run.batches, 5);
  EXPECT_EQ(options_of({"--fast_dev_run", "false"}).fast_dev_run.batches, 0);
  EXPECT_EQ(options_of({"--deterministic", "warn"}).deterministic->value, "warn");
  EXPECT_EQ(options_of({"--deterministic"}).deterministic->value, "true");
  EXPECT_EQ(options_of({"--deterministic", "false"}).deterministic->value, "false");
}

TEST(ArgParse, RemainingFlags) {
  auto o = options_of({"--track_grad_norm",
                       "inf",
                       "--check_val_every_n_epoch",
                       "null",
                       "--num_sanity_val_steps",
                       "-1",
                       "--log_every_n_steps",
                       "10",
                       "--gradient_clip_val",
                       "1",
                       "--gradient_clip_algorithm",
                       "value",
                       "--profiler",
                       "simple",
                       "--auto_scale_batch_size",
                       "binsearch",
                       "--auto_lr_find",
                       "--reload_dataloaders_every_n_epochs",
                       "2",
                       "--default_root_dir",
                       "/tmp/runs x"});
  EXPECT_TRUE(std::isinf(o.track_grad_norm.value));
  EXPECT_EQ(o.check_val_every_n_epoch, std::nullopt);
  EXPECT_EQ(o.num_sanity_val_steps, -1);
  EXPECT_EQ(o.log_every_n_steps, 10);
  EXPECT_EQ(o.gradient_clip_val, 1.0);
  EXPECT_EQ(o.gradient_clip_algorithm, "value");
  EXPECT_EQ(o.profiler->name, "simple");
  EXPECT_TRUE(o.auto_scale_batch_size.enabled);
  EXPECT_EQ(o.auto_scale_batch_size.value, "binsearch");
  EXPECT_TRUE(o.auto_lr_find.enabled);
  EXPECT_EQ(o.auto_lr_find.value, "");
  EXPECT_EQ(o.reload_dataloaders_every_n_epochs, 2);
  EXPECT_EQ(o.default_root_dir, "/tmp/runs x");
  EXPECT_EQ(options_of({"--track_grad_norm", "2"}).track_grad_norm.value, 2.0);
  EXPECT_EQ(options_of({"--auto_lr_find", "learning_rate"}).auto_lr_find.value, "learning_rate");
  EXPECT_FALSE(options_of({"--auto_lr_find", "false"}).auto_lr_find.enabled);
}

TEST(ArgParse, CallbacksByClassNameWithInitArgs) {
  auto o = options_of({"--callbacks", "ModelCheckpoint", "--callbacks.monitor", "val_loss", "--callbacks.filename",
                       "{epoch}-{val_loss:.2f}", "--callbacks", "EarlyStopping", "--callbacks.monitor", "val_acc",
                       "--callbacks.patience", "5", "--callbacks.mode", "max"});
  ASSERT_EQ(o.callbacks.size(), 2u);
  auto* ckpt = as<ModelCheckpoint>(o.callbacks[0]);
  ASSERT_NE(ckpt, nullptr);
  EXPECT_EQ(ckpt->options().monitor, "val_loss");
  EXPECT_EQ(ckpt->options().filename, "{epoch}-{val_loss:.2f}");
  auto* stop = as<EarlyStopping>(o.callbacks[1]);
  ASSERT_NE(stop, nullptr);
  EXPECT_EQ(stop->options().monitor, "val_acc");
  EXPECT_EQ(stop->patience(), 5);
  EXPECT_EQ(stop->options().mode, "max");
  // Lightning's class paths work too, and the defaults' callbacks stay.
  TrainerOptions defaults{.callbacks = {std::make_shared<Timer>()}};
  auto more = options_of(
      {"--callbacks", "lightning.pytorch.callbacks.LearningRateMonitor", "--callbacks.logging_interval", "step"},
      defaults);
  ASSERT_EQ(more.callbacks.size(), 2u);
  EXPECT_NE(as<Timer>(more.callbacks[0]), nullptr);
  EXPECT_NE(as<LearningRateMonitor>(more.callbacks[1]), nullptr);
  // The tuner's callbacks.
  auto tuners = options_of({"--callbacks", "LearningRateFinder", "--callbacks.max_lr", "0.5", "--callbacks",
                            "BatchSizeFinder", "--callbacks.mode", "binsearch", "--callbacks.max_memory", "1000000"});
  ASSERT_EQ(tuners.callbacks.size(), 2u);
  EXPECT_EQ(as<LearningRateFinder>(tuners.callbacks[0])->options().max_lr, 0.5);
  EXPECT_EQ(as<BatchSizeFinder>(tuners.callbacks[1])->options().mode, "binsearch");
  EXPECT_EQ(as<BatchSizeFinder>(tuners.callbacks[1])->options().max_memory, 1000000);
}

TEST(ArgParse, CallbackErrorsNameTheClassAndArgument) {
  EXPECT_TRUE(contains(error_for({"--callbacks", "ModelChekpoint"}), "did you mean 'ModelCheckpoint'"))
      << error_for({"--callbacks", "ModelChekpoint"});
  EXPECT_TRUE(contains(error_for({"--callbacks", "EarlyStopping"}), "EarlyStopping needs the argument 'monitor'"))
      << error_for({"--callbacks", "EarlyStopping"});
  auto e = error_for({"--callbacks", "EarlyStopping", "--callbacks.monitor", "x", "--callbacks.save_top_k", "2"});
  EXPECT_TRUE(contains(e, "EarlyStopping has no argument 'save_top_k'")) << e;
  e = error_for({"--callbacks.monitor", "x"});
  EXPECT_TRUE(contains(e, "none is given before it")) << e;
  e = error_for({"--callbacks", "EarlyStopping", "--callbacks.monitor", "x", "--callbacks.mode", "sideways"});
  EXPECT_TRUE(contains(e, "--callbacks.mode='sideways' is invalid; accepted: one of 'min', 'max'")) << e;
  // Timer's duration reads "DD:HH:MM:SS" as the max_time flag does, 9 digits a field at most.
  auto timer = options_of({"--callbacks", "Timer", "--callbacks.duration", "00:01:00:30"});
  EXPECT_EQ(as<Timer>(timer.callbacks[0])->time_remaining(), 3630.0);
  for (const char* bad : {"1:xx", "0:0:0:9999999999"}) {
    e = error_for({"--callbacks", "Timer", "--callbacks.duration", bad});
    EXPECT_TRUE(contains(e, std::string("Timer(duration='") + bad + "') is invalid; accepted: \"DD:HH:MM:SS\"")) << e;
  }
}

TEST(ArgParse, LoggersAndPlugins) {
  EXPECT_FALSE(options_of({"--logger", "false"}).logger.enabled);
  EXPECT_TRUE(options_of({"--logger"}).logger.enabled);
  TempDir dir;
  auto o = options_of({"--default_root_dir", dir.str(), "--logger", "CSVLogger", "--logger.name", "csv", "--logger",
                       "TensorBoardLogger", "--logger.version", "7"});
  ASSERT_EQ(o.logger.loggers.size(), 2u);
  EXPECT_EQ(o.logger.loggers[0]->name(), "csv");
  EXPECT_EQ(o.logger.loggers[0]->save_dir(), dir.str());  // unset save_dir: default_root_dir
  EXPECT_NE(dynamic_cast<loggers::CSVLogger*>(o.logger.loggers[0].get()), nullptr);
  EXPECT_EQ(o.logger.loggers[1]->version(), "7");
  auto p = options_of({"--plugins", "AsyncCheckpointIO"});
  ASSERT_EQ(p.plugins.size(), 1u);
  EXPECT_NE(dynamic_cast<plugins::AsyncCheckpointIO*>(p.plugins[0].get()), nullptr);
}

// A program may parse one App more than once (a shell, a test); CLI11 2.3 keeps the earlier
// parses in parse_order(), which read as this parse's classes or threw std::out_of_range
// (command_line_fuzzer, once its App was reused).
TEST(ArgParse, AnAppParsedAgainGivesTheLatestParsesClasses) {
  CLI::App app{"test"};
  Trainer::add_argparse_args(app);
  parse(app, {"--callbacks", "EarlyStopping", "--callbacks.monitor", "a", "--callbacks", "Timer"});
  ASSERT_EQ(Trainer::options_from_argparse_args(app, {}).callbacks.size(), 2u);
  parse(app, {"--callbacks", "ModelCheckpoint", "--callbacks.monitor", "b"});
  auto o = Trainer::options_from_argparse_args(app, {});
  ASSERT_EQ(o.callbacks.size(), 1u);
  ASSERT_NE(as<ModelCheckpoint>(o.callbacks[0]), nullptr);
  EXPECT_EQ(as<ModelCheckpoint>(o.callbacks[0])->options().monitor, "b");
  parse(app, {"--max_epochs", "3"});
  o = Trainer::options_from_argparse_args(app, {});
  EXPECT_TRUE(o.callbacks.empty());
  EXPECT_EQ(o.max_epochs, 3);
}

TEST(ArgParse, HelpShowsEveryFlagWithItsDefaultAndDoc) {
  CLI::App app{"test"};
  Trainer::add_argparse_args(app);
  const std::string help = app.help();
  for (const auto& f : cli::detail::trainer_flags()) {
    EXPECT_TRUE(contains(help, "--" + f.name + " " + f.type)) << f.name;
    EXPECT_TRUE(contains(help, f.doc)) << f.name;
  }
  EXPECT_TRUE(contains(help, "--max_epochs INT|null")) << help;
  EXPECT_TRUE(contains(help, "-1: no limit) (default: null)")) << help;
  EXPECT_TRUE(contains(help, "or a name registered in the AcceleratorRegistry (default: auto)")) << help;
  EXPECT_TRUE(contains(help, "--max_steps INT")) << help;
  EXPECT_TRUE(contains(help, "-1: no limit) (default: -1)")) << help;
  EXPECT_TRUE(contains(help, "(default: 32-true)")) << help;
  EXPECT_TRUE(contains(help, "--callbacks.monitor VALUE")) << help;
}

TEST(ArgParse, BadValuesGetTheTrainersMessages) {
  // The Trainer's range check, not a parser's "not in range 0.000000 to 1797693134862315708...".
  auto e = error_for({"--max_epochs", "-5"});
  EXPECT_EQ(e, "max_epochs=-5 is invalid; accepted: an int >= -1 (-1: no limit)");
  e = error_for({"--max_epochs", "abc"});
  EXPECT_EQ(e, "--max_epochs='abc' is invalid; accepted: an int >= -1 (-1: no limit), or null");
  e = error_for({"--max_epochs", "2.5"});
  EXPECT_EQ(e, "--max_epochs=2.5 is invalid; accepted: an int >= -1 (-1: no limit), or null");
  e = error_for({"--limit_train_batches", "1.5"});
  EXPECT_EQ(e,
            "limit_train_batches=1.5 is invalid; accepted: a float fraction in [0.0, 1.0] or an int number of "
            "batches >= 0");
  e = error_for({"--limit_train_batches", "all"});
  EXPECT_TRUE(contains(e, "--limit_train_batches='all' is invalid; accepted: a float fraction")) << e;
  e = error_for({"--precision", "8"});
  EXPECT_TRUE(contains(e, "precision='8' is invalid; accepted: 64,")) << e;
  e = error_for({"--accumulate_grad_batches", "{5: 0}"});
  EXPECT_TRUE(contains(e, "accumulate_grad_batches has the entry {5: 0}")) << e;
  e = error_for({"--accumulate_grad_batches", "{5: 3"});
  EXPECT_TRUE(contains(e, "--accumulate_grad_batches='{5: 3' is invalid: not YAML")) << e;
  e = error_for({"--max_time", "12 hours"});
  EXPECT_TRUE(contains(e, "max_time=\"12 hours\" is invalid")) << e;
  e = error_for({"--enable_progress_bar", "maybe"});
  EXPECT_EQ(e, "--enable_progress_bar='maybe' is invalid; accepted: true, false or null");
  e = error_for({"--track_grad_norm", "max"});
  EXPECT_TRUE(contains(e, "track_grad_norm='max' is invalid")) << e;
  e = error_for({"--gradient_clip_algorithm", "clip"});
  EXPECT_TRUE(contains(e, "gradient_clip_algorithm='clip' is invalid; accepted: 'norm', 'value'")) << e;
  e = error_for({"--accelerator", "tpu"});
  EXPECT_TRUE(contains(e, "accelerator='tpu'")) << e;
}

TEST(ArgParse, UnknownFlagsGetTheClosestNames) {
  auto e = error_for({"--max_epcohs", "3"});
  EXPECT_EQ(e, "unknown flag --max_epcohs; did you mean '--max_epochs'?; accepted: the flags --help lists");
  e = error_for({"--limit_train_batch", "3"});
  EXPECT_TRUE(contains(e, "did you mean '--limit_train_batches'")) << e;
  e = error_for({"--zzz"});
  EXPECT_EQ(e, "unknown flag --zzz; accepted: the flags --help lists");
}

TEST(ArgParse, DefaultsStayUnlessAFlagIsGiven) {
  auto o = options_of({"--min_epochs", "1"}, {.max_epochs = 7, .limit_train_batches = 3});
  EXPECT_EQ(o.max_epochs, 7);
  EXPECT_EQ(std::get<int64_t>(o.limit_train_batches->value), 3);
  EXPECT_EQ(o.min_epochs, 1);
}

TEST(ArgParse, FromArgparseArgsBuildsATrainerThatCountsFloatLimitsAsLightningDoes) {
  CLI::App app{"test"};
  Trainer::add_argparse_args(app);
  TempDir dir;
  parse(app, {"--max_epochs", "1", "--limit_train_batches", "10.0", "--limit_val_batches", "0", "--accelerator", "cpu",
              "--logger", "false", "--enable_progress_bar", "false", "--enable_model_summary", "false",
              "--enable_checkpointing", "false", "--default_root_dir", dir.str()});
  auto trainer = Trainer::from_argparse_args(app);
  silenced([&] { trainer->fit(std::make_shared<BoringModel>()); });
  EXPECT_EQ(trainer->global_step(), 10);
}
