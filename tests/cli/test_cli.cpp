// LightningCLI: subcommands, config files, --print_config round trips, SaveConfigCallback,
// --model.* / --data.* arguments, callbacks by class name, the errors and their messages.
#include "cli/values.h"
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <lightning/callbacks/registry.h>
#include <lightning/cli/cli.h>
#include <lightning/plugins/checkpoint_io.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <typeinfo>
#include <unistd.h>

using namespace lightning;
using namespace lightning::testing;

namespace {

struct CliModel : BoringModel {
  double lr;
  std::string tag;
  static void add_arguments(cli::Arguments& a) {
    a.add("lr", 0.1, "Learning rate");
    a.add("name", std::string("boring"), "A name");
    a.add<std::optional<int64_t>>("width", std::nullopt, "A width nobody uses");
  }
  explicit CliModel(const cli::InitArgs& a) : lr(a.get<double>("lr")), tag(a.get<std::string>("name")) {}
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    log("val_loss", step(batch[0]));
    return {};
  }
  StepOutput test_step(const Batch& batch, int64_t, int64_t) override {
    log("test_loss", step(batch[0]));
    return {};
  }
};

struct CliData : LightningDataModule {
  int64_t size, batch_size;
  std::string tag;
  static void add_arguments(cli::Arguments& a) {
    a.add("size", int64_t{16}, "Samples per set");
    a.add("batch_size", int64_t{4}, "Batch size");
    a.add("name", std::string("data"), "A name");
  }
  explicit CliData(const cli::InitArgs& a)
      : size(a.get<int64_t>("size")), batch_size(a.get<int64_t>("batch_size")), tag(a.get<std::string>("name")) {}
  DataLoaders train_dataloader() override { return random_loader(size, batch_size); }
  DataLoaders val_dataloader() override { return random_loader(size, batch_size); }
  DataLoaders test_dataloader() override { return random_loader(size, batch_size); }
  DataLoaders predict_dataloader() override { return random_loader(size, batch_size); }
};

using TestCLI = LightningCLI<CliModel, CliData>;

LightningCLIOptions quiet_cli(const TempDir& dir) {
  LightningCLIOptions o;
  o.trainer_defaults = quiet({.default_root_dir = dir.str()});
  o.seed_everything_default = 1;
  return o;
}

std::string printed(std::vector<std::string> args, LightningCLIOptions o) {
  std::ostringstream out;
  o.out = &out;
  args.push_back("--print_config");
  try {
    TestCLI cli(args, o);
    ADD_FAILURE() << "--print_config did not exit";
  } catch (const cli::Exit& e) {
    EXPECT_EQ(e.code(), 0);
  }
  return out.str();
}

std::string cli_error(const std::vector<std::string>& args, const LightningCLIOptions& o) {
  return error_of([&] { silenced([&] { TestCLI cli(args, o); }); });
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return dir.file(name);
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

LightningCLIOptions no_run(LightningCLIOptions o) {
  o.run = false;
  return o;
}

// Every field of two TrainerOptions (objects by type and their options).
void expect_same(const TrainerOptions& a, const TrainerOptions& b) {
  EXPECT_EQ(a.accelerator.name, b.accelerator.name);
  EXPECT_EQ(a.strategy.name, b.strategy.name);
  EXPECT_EQ(a.devices.value, b.devices.value);
  EXPECT_EQ(a.num_nodes, b.num_nodes);
  EXPECT_EQ(a.precision.value, b.precision.value);
  EXPECT_EQ(a.logger.enabled, b.logger.enabled);
  ASSERT_EQ(a.logger.loggers.size(), b.logger.loggers.size());
  for (size_t i = 0; i < a.logger.loggers.size(); ++i) {
    EXPECT_EQ(typeid(*a.logger.loggers[i]), typeid(*b.logger.loggers[i]));
    EXPECT_EQ(a.logger.loggers[i]->name(), b.logger.loggers[i]->name());
    EXPECT_EQ(a.logger.loggers[i]->save_dir(), b.logger.loggers[i]->save_dir());
  }
  ASSERT_EQ(a.callbacks.size(), b.callbacks.size());
  for (size_t i = 0; i < a.callbacks.size(); ++i) {
    EXPECT_EQ(typeid(*a.callbacks[i]), typeid(*b.callbacks[i]));
    if (auto* x = dynamic_cast<ModelCheckpoint*>(a.callbacks[i].get())) {
      auto* y = dynamic_cast<ModelCheckpoint*>(b.callbacks[i].get());
      EXPECT_EQ(x->options().monitor, y->options().monitor);
      EXPECT_EQ(x->options().filename, y->options().filename);
      EXPECT_EQ(x->options().mode, y->options().mode);
      EXPECT_EQ(x->options().save_top_k, y->options().save_top_k);
      EXPECT_EQ(x->options().save_last, y->options().save_last);
    }
    if (auto* x = dynamic_cast<EarlyStopping*>(a.callbacks[i].get())) {
      auto* y = dynamic_cast<EarlyStopping*>(b.callbacks[i].get());
      EXPECT_EQ(x->options().monitor, y->options().monitor);
      EXPECT_EQ(x->patience(), y->patience());
      EXPECT_EQ(x->options().min_delta, y->options().min_delta);
    }
    if (auto* x = dynamic_cast<SaveConfigCallback*>(a.callbacks[i].get())) {
      EXPECT_EQ(x->config(), dynamic_cast<SaveConfigCallback*>(b.callbacks[i].get())->config());
    }
  }
  EXPECT_EQ(a.fast_dev_run.batches, b.fast_dev_run.batches);
  EXPECT_EQ(a.max_epochs, b.max_epochs);
  EXPECT_EQ(a.min_epochs, b.min_epochs);
  EXPECT_EQ(a.max_steps, b.max_steps);
  EXPECT_EQ(a.min_steps, b.min_steps);
  ASSERT_EQ(a.max_time.has_value(), b.max_time.has_value());
  if (a.max_time) {
    EXPECT_EQ(a.max_time->value, b.max_time->value);
  }
  auto same_limit = [](const std::optional<BatchLimit>& x, const std::optional<BatchLimit>& y) {
    return x.has_value() == y.has_value() && (!x || x->value == y->value);
  };
  EXPECT_TRUE(same_limit(a.limit_train_batches, b.limit_train_batches));
  EXPECT_TRUE(same_limit(a.limit_val_batches, b.limit_val_batches));
  EXPECT_TRUE(same_limit(a.limit_test_batches, b.limit_test_batches));
  EXPECT_TRUE(same_limit(a.limit_predict_batches, b.limit_predict_batches));
  EXPECT_EQ(a.overfit_batches.value, b.overfit_batches.value);
  EXPECT_EQ(a.track_grad_norm.value, b.track_grad_norm.value);
  EXPECT_TRUE(same_limit(a.val_check_interval, b.val_check_interval));
  EXPECT_EQ(a.check_val_every_n_epoch, b.check_val_every_n_epoch);
  EXPECT_EQ(a.num_sanity_val_steps, b.num_sanity_val_steps);
  EXPECT_EQ(a.log_every_n_steps, b.log_every_n_steps);
  EXPECT_EQ(a.enable_checkpointing, b.enable_checkpointing);
  EXPECT_EQ(a.enable_progress_bar, b.enable_progress_bar);
  EXPECT_EQ(a.enable_model_summary, b.enable_model_summary);
  EXPECT_EQ(a.accumulate_grad_batches.factor, b.accumulate_grad_batches.factor);
  EXPECT_EQ(a.accumulate_grad_batches.schedule, b.accumulate_grad_batches.schedule);
  EXPECT_EQ(a.gradient_clip_val, b.gradient_clip_val);
  EXPECT_EQ(a.gradient_clip_algorithm, b.gradient_clip_algorithm);
  EXPECT_EQ(a.deterministic.has_value(), b.deterministic.has_value());
  if (a.deterministic) {
    EXPECT_EQ(a.deterministic->value, b.deterministic->value);
  }
  EXPECT_EQ(a.benchmark, b.benchmark);
  EXPECT_EQ(a.inference_mode, b.inference_mode);
  EXPECT_EQ(a.use_distributed_sampler, b.use_distributed_sampler);
  EXPECT_EQ(a.replace_sampler_ddp, b.replace_sampler_ddp);
  EXPECT_EQ(a.profiler.has_value(), b.profiler.has_value());
  if (a.profiler) {
    EXPECT_EQ(a.profiler->name, b.profiler->name);
  }
  EXPECT_EQ(a.detect_anomaly, b.detect_anomaly);
  EXPECT_EQ(a.auto_scale_batch_size.enabled, b.auto_scale_batch_size.enabled);
  EXPECT_EQ(a.auto_scale_batch_size.value, b.auto_scale_batch_size.value);
  EXPECT_EQ(a.barebones, b.barebones);
  ASSERT_EQ(a.plugins.size(), b.plugins.size());
  for (size_t i = 0; i < a.plugins.size(); ++i) EXPECT_EQ(typeid(*a.plugins[i]), typeid(*b.plugins[i]));
  EXPECT_EQ(a.sync_batchnorm, b.sync_batchnorm);
  EXPECT_EQ(a.reload_dataloaders_every_n_epochs, b.reload_dataloaders_every_n_epochs);
  EXPECT_EQ(a.auto_lr_find.enabled, b.auto_lr_find.enabled);
  EXPECT_EQ(a.auto_lr_find.value, b.auto_lr_find.value);
  EXPECT_EQ(a.default_root_dir, b.default_root_dir);
}

}  // namespace

TEST(CLI, SubcommandsFitValidateTestPredictRunTheModel) {
  TempDir dir;
  const std::vector<std::string> flags = {"--trainer.max_epochs",
                                          "1",
                                          "--trainer.limit_train_batches",
                                          "3",
                                          "--trainer.limit_val_batches",
                                          "2",
                                          "--trainer.limit_test_batches",
                                          "2",
                                          "--trainer.limit_predict_batches",
                                          "2",
                                          "--trainer.num_sanity_val_steps",
                                          "0",
                                          "--data.batch_size",
                                          "2"};
  auto with = [&](const char* subcommand) {
    std::vector<std::string> args = {subcommand};
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  };
  auto o = quiet_cli(dir);
  o.save_config_kwargs.overwrite = true;
  std::unique_ptr<TestCLI> fit;
  silenced([&] { fit = std::make_unique<TestCLI>(with("fit"), o); });
  EXPECT_EQ(fit->subcommand(), "fit");
  EXPECT_EQ(fit->trainer->global_step(), 3);
  EXPECT_EQ(fit->datamodule->batch_size, 2);
  std::unique_ptr<TestCLI> validate, test, predict;
  silenced([&] {
    validate = std::make_unique<TestCLI>(with("validate"), o);
    test = std::make_unique<TestCLI>(with("test"), o);
    predict = std::make_unique<TestCLI>(with("predict"), o);
  });
  ASSERT_EQ(validate->results.size(), 1u);
  EXPECT_TRUE(validate->results[0].count("val_loss"));
  EXPECT_EQ(validate->trainer->global_step(), 0);
  ASSERT_EQ(test->results.size(), 1u);
  EXPECT_TRUE(test->results[0].count("test_loss"));
  ASSERT_EQ(predict->predictions.size(), 1u);
  EXPECT_EQ(predict->predictions[0].size(), 2u);
  // The subcommand's own arguments are keys of its config.
  EXPECT_NE(fit->config().find("ckpt_path"), nullptr);
  EXPECT_EQ(fit->config().find("verbose"), nullptr);
  EXPECT_NE(test->config().find("verbose"), nullptr);
  EXPECT_NE(predict->config().find("return_predictions"), nullptr);
}

TEST(CLI, HooksRunAroundTheSubcommandAndTheSeedIsRecorded) {
  TempDir dir;
  std::vector<std::string> calls;
  TestCLI::Hooks hooks;
  hooks.before_instantiate_classes = [&](TestCLI& cli) {
    calls.push_back(cli.model ? "model?" : "before_instantiate");
  };
  hooks.before_fit = [&](TestCLI& cli) { calls.push_back("before_fit " + std::to_string(cli.trainer->global_step())); };
  hooks.after_fit = [&](TestCLI& cli) { calls.push_back("after_fit " + std::to_string(cli.trainer->global_step())); };
  auto o = quiet_cli(dir);
  o.seed_everything_default = true;
  silenced([&] {
    TestCLI cli({"fit", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "0"}, o, hooks);
    EXPECT_TRUE(cli.config().find("seed_everything")->is_int());  // the seed chosen, as Lightning records it
  });
  EXPECT_EQ(calls, (std::vector<std::string>{"before_instantiate", "before_fit 0", "after_fit 2"}));
}

TEST(CLI, ConfigFilesOverrideInOrderAndFlagsOverrideFiles) {
  TempDir dir;
  auto a = write(dir, "a.yaml", "trainer:\n  max_epochs: 3\n  max_steps: 7\nmodel:\n  lr: 0.5\n  name: first\n");
  auto b = write(dir, "b.yaml", "trainer:\n  max_epochs: 4\nmodel:\n  name: second\n");
  // A flag before a file still wins over it; the later file over the earlier one.
  TestCLI cli({"--model.lr", "0.25", "--config", a, "-c", b, "--trainer.min_epochs", "1"}, no_run(quiet_cli(dir)));
  EXPECT_EQ(cli.trainer_options().max_epochs, 4);
  EXPECT_EQ(cli.trainer_options().max_steps, 7);
  EXPECT_EQ(cli.trainer_options().min_epochs, 1);
  EXPECT_EQ(cli.model->lr, 0.25);
  EXPECT_EQ(cli.model->tag, "second");
  EXPECT_EQ(cli.subcommand(), "");
}

TEST(CLI, PrintConfigFedBackGivesTheSameResolvedOptions) {
  TempDir dir;
  const std::vector<std::string> args = {"--seed_everything",
                                         "123",
                                         "--trainer.max_epochs",
                                         "3",
                                         "--trainer.limit_train_batches",
                                         "0.25",
                                         "--trainer.limit_val_batches",
                                         "10",
                                         "--trainer.limit_test_batches",
                                         "10.0",
                                         "--trainer.limit_predict_batches",
                                         "1.0",
                                         "--trainer.devices",
                                         "1",
                                         "--trainer.precision",
                                         "64",
                                         "--trainer.max_time",
                                         "00:12:00:00",
                                         "--trainer.accumulate_grad_batches",
                                         "{2: 3, 4: 5}",
                                         "--trainer.gradient_clip_val",
                                         "0.5",
                                         "--trainer.gradient_clip_algorithm",
                                         "value",
                                         "--trainer.check_val_every_n_epoch",
                                         "null",
                                         "--trainer.val_check_interval",
                                         "5",
                                         "--trainer.track_grad_norm",
                                         "inf",
                                         "--trainer.overfit_batches",
                                         "0.0",
                                         "--trainer.enable_checkpointing",
                                         "true",
                                         "--trainer.callbacks",
                                         "ModelCheckpoint",
                                         "--trainer.callbacks.monitor",
                                         "val_loss",
                                         "--trainer.callbacks.filename",
                                         "{epoch}-{val_loss:.2f}",
                                         "--trainer.callbacks+=EarlyStopping",
                                         "--trainer.callbacks.monitor",
                                         "val_loss",
                                         "--trainer.callbacks.patience",
                                         "7",
                                         "--trainer.callbacks.min_delta",
                                         "1e-05",
                                         "--trainer.logger",
                                         "CSVLogger",
                                         "--trainer.logger.name",
                                         "runs",
                                         "--trainer.plugins",
                                         "AsyncCheckpointIO",
                                         "--trainer.benchmark",
                                         "false",
                                         "--trainer.log_every_n_steps",
                                         "5",
                                         "--model.lr",
                                         "0.5",
                                         "--model.name",
                                         "yes",
                                         "--data.name",
                                         "00:12",
                                         "--data.size",
                                         "8"};
  const std::string first = printed(args, no_run(quiet_cli(dir)));
  EXPECT_TRUE(contains(first, "# lightning==")) << first;
  EXPECT_TRUE(contains(first, "  limit_train_batches: 0.25\n")) << first;
  EXPECT_TRUE(contains(first, "  limit_test_batches: 10.0\n")) << first;
  EXPECT_TRUE(contains(first, "  max_time: '00:12:00:00'\n")) << first;
  EXPECT_TRUE(contains(first, "  name: 'yes'\n")) << first;
  EXPECT_TRUE(contains(first, "  callbacks:\n  - class_path: ModelCheckpoint\n    init_args:\n")) << first;
  const std::string file = write(dir, "printed.yaml", first);
  EXPECT_EQ(printed({"--config", file}, no_run(quiet_cli(dir))), first);

  TestCLI from_flags(args, no_run(quiet_cli(dir)));
  TestCLI from_file({"--config", file}, no_run(quiet_cli(dir)));
  expect_same(from_flags.trainer_options(), from_file.trainer_options());
  EXPECT_EQ(from_flags.config(), from_file.config());
  EXPECT_EQ(from_file.model->tag, "yes");
  EXPECT_EQ(from_file.datamodule->tag, "00:12");
  EXPECT_EQ(from_file.datamodule->size, 8);
  EXPECT_EQ(std::get<double>(from_file.trainer_options().limit_test_batches->value), 10.0);
  EXPECT_EQ(from_file.trainer_options().accumulate_grad_batches.schedule, (std::map<int, int>{{2, 3}, {4, 5}}));

  // jsonargparse's skip_null.
  std::ostringstream compact;
  auto o = no_run(quiet_cli(dir));
  o.out = &compact;
  EXPECT_THROW(TestCLI({"--print_config=skip_null", "--trainer.logger", "CSVLogger"}, o), cli::Exit);
  EXPECT_FALSE(contains(compact.str(), "null")) << compact.str();
  EXPECT_TRUE(contains(compact.str(), "  max_steps: -1\n")) << compact.str();

  // The same with a subcommand, whose config also has the method's arguments.
  const std::string fit = printed({"fit", "--trainer.max_epochs", "2", "--ckpt_path", "last"}, quiet_cli(dir));
  EXPECT_TRUE(contains(fit, "\nckpt_path: last\n")) << fit;
  EXPECT_EQ(printed({"fit", "--config", write(dir, "fit.yaml", fit)}, quiet_cli(dir)), fit);
}

TEST(CLI, SaveConfigCallbackWritesConfigYamlAndRefusesToOverwrite) {
  TempDir dir;
  const std::vector<std::string> args = {"fit", "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0"};
  std::string saved;
  silenced([&] {
    TestCLI cli(args, quiet_cli(dir));
    saved = cli.config_yaml();
  });
  EXPECT_EQ(read(dir.file("config.yaml")), saved);
  EXPECT_TRUE(contains(saved, "\nseed_everything: 1\n")) << saved;
  auto e = cli_error(args, quiet_cli(dir));
  EXPECT_EQ(e, "SaveConfigCallback expected " + dir.file("config.yaml") +
                   " to NOT exist. Aborting to avoid overwriting results of a previous run. You can delete the "
                   "previous config file, set `LightningCLIOptions{.save_config_callback = nullptr}` to disable "
                   "config saving, or set `LightningCLIOptions{.save_config_kwargs = {.overwrite = true}}` to "
                   "overwrite the config file.");
  auto o = quiet_cli(dir);
  o.save_config_kwargs.overwrite = true;
  EXPECT_EQ(cli_error({"fit", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "0"}, o), "<no exception>");
  EXPECT_TRUE(contains(read(dir.file("config.yaml")), "  max_steps: 2\n"));
  o = quiet_cli(dir);
  o.save_config_callback = nullptr;
  EXPECT_EQ(cli_error(args, o), "<no exception>");
  // With a logger, the file goes to its version folder.
  silenced([&] {
    TestCLI cli(
        {"fit", "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0", "--trainer.logger", "CSVLogger"},
        quiet_cli(dir));
  });
  EXPECT_TRUE(contains(read(dir.file("lightning_logs/version_0/config.yaml")), "class_path: CSVLogger"));
}

TEST(CLI, ModelAndDataArgumentsAndHelp) {
  TempDir dir;
  TestCLI cli({"--model.lr", "2", "--model.width", "null", "--data.batch_size", "8", "--data.name", "x y"},
              no_run(quiet_cli(dir)));
  EXPECT_EQ(cli.model->lr, 2.0);  // an int for a float argument
  EXPECT_EQ(cli.datamodule->batch_size, 8);
  EXPECT_EQ(cli.datamodule->tag, "x y");
  std::ostringstream out;
  auto o = quiet_cli(dir);
  o.out = &out;
  try {
    TestCLI help({"fit", "--help"}, o);
  } catch (const cli::Exit& e) {
    EXPECT_EQ(e.code(), 0);
  }
  const std::string text = out.str();
  EXPECT_TRUE(contains(text, "--model.lr FLOAT")) << text;
  EXPECT_TRUE(contains(text, "Learning rate (default: 0.1)")) << text;
  EXPECT_TRUE(contains(text, "--data.batch_size INT")) << text;
  EXPECT_TRUE(contains(text, "--trainer.max_epochs INT|null")) << text;
  EXPECT_TRUE(contains(text, "--ckpt_path STR|null")) << text;
  EXPECT_TRUE(contains(text, "Runs the full optimization routine.")) << text;
  auto e = cli_error({"--model.lrr", "1"}, no_run(quiet_cli(dir)));
  EXPECT_EQ(e, "unknown flag --model.lrr; did you mean '--model.lr'?; accepted: the flags `lightning --help` lists");
  e = cli_error({"--model.lr", "fast"}, no_run(quiet_cli(dir)));
  EXPECT_EQ(e, "--model.lr='fast' is invalid; accepted: a float");
}

TEST(CLI, CallbacksLoggersAndPluginsByClassName) {
  TempDir dir;
  TestCLI cli({"--trainer.enable_checkpointing", "true", "--trainer.callbacks", "ModelCheckpoint",
               "--trainer.callbacks.monitor", "val_loss", "--trainer.callbacks+=EarlyStopping",
               "--trainer.callbacks.monitor", "val_loss", "--trainer.callbacks.patience", "7", "--trainer.logger",
               "TensorBoardLogger", "--trainer.logger.name", "tb"},
              no_run(quiet_cli(dir)));
  const auto& cbs = cli.trainer_options().callbacks;
  ASSERT_EQ(cbs.size(), 3u);
  EXPECT_EQ(dynamic_cast<ModelCheckpoint*>(cbs[0].get())->options().monitor, "val_loss");
  EXPECT_EQ(dynamic_cast<EarlyStopping*>(cbs[1].get())->patience(), 7);
  EXPECT_NE(dynamic_cast<SaveConfigCallback*>(cbs[2].get()), nullptr);
  EXPECT_EQ(cli.trainer->logger()->name(), "tb");
  EXPECT_EQ(cli.trainer->logger()->save_dir(), dir.str());
  // Lightning's YAML form, with its class paths; a flag without `+=` replaces the file's list.
  auto cfg = write(dir, "cbs.yaml",
                   "trainer:\n  callbacks:\n  - class_path: lightning.pytorch.callbacks.EarlyStopping\n"
                   "    init_args:\n      monitor: val_acc\n      mode: max\n  - LearningRateMonitor\n");
  TestCLI from_file({"--config", cfg}, no_run(quiet_cli(dir)));
  ASSERT_EQ(from_file.trainer_options().callbacks.size(), 3u);
  EXPECT_EQ(dynamic_cast<EarlyStopping*>(from_file.trainer_options().callbacks[0].get())->options().mode, "max");
  EXPECT_NE(dynamic_cast<LearningRateMonitor*>(from_file.trainer_options().callbacks[1].get()), nullptr);
  TestCLI replaced({"--config", cfg, "--trainer.callbacks", "Timer"}, no_run(quiet_cli(dir)));
  ASSERT_EQ(replaced.trainer_options().callbacks.size(), 2u);
  EXPECT_NE(dynamic_cast<Timer*>(replaced.trainer_options().callbacks[0].get()), nullptr);
  auto e = cli_error({"--trainer.callbacks", "EarlyStoping"}, no_run(quiet_cli(dir)));
  EXPECT_TRUE(contains(e, "did you mean 'EarlyStopping'")) << e;
  e = cli_error({"--trainer.callbacks", "EarlyStopping"}, no_run(quiet_cli(dir)));
  EXPECT_TRUE(contains(e, "trainer.callbacks[0]: EarlyStopping needs the argument 'monitor'")) << e;
}

TEST(CLI, ErrorsGiveTheTrainersMessagesAndTheClosestNames) {
  TempDir dir;
  EXPECT_EQ(cli_error({"fit", "--trainer.max_epochs", "-5"}, quiet_cli(dir)),
            "max_epochs=-5 is invalid; accepted: an int >= -1 (-1: no limit)");
  EXPECT_EQ(cli_error({"fit", "--trainer.max_epochs", "abc"}, quiet_cli(dir)),
            "--trainer.max_epochs='abc' is invalid; accepted: an int >= -1 (-1: no limit), or null");
  EXPECT_EQ(cli_error({"fit", "--trainer.max_epcohs", "3"}, quiet_cli(dir)),
            "unknown flag --trainer.max_epcohs; did you mean '--trainer.max_epochs'?; accepted: the flags "
            "`lightning fit --help` lists");
  // Lightning 1.x's spelling without the group: the closest names say where it went.
  auto e = cli_error({"fit", "--max_epochs", "3"}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, "unknown flag --max_epochs; did you mean '--trainer.max_epochs'")) << e;
  e = cli_error({"fti"}, quiet_cli(dir));
  EXPECT_EQ(e, "'fti' is not a subcommand; did you mean 'fit'?; accepted: 'fit', 'validate', 'test', 'predict'");
  e = cli_error({}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, "a subcommand is required")) << e;
  e = cli_error({"fit", "--trainer.max_epochs"}, quiet_cli(dir));
  EXPECT_EQ(e,
            "--trainer.max_epochs expects a value; accepted: --trainer.max_epochs VALUE or "
            "--trainer.max_epochs=VALUE");
  e = cli_error({"fit", "stray"}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, "unexpected argument 'stray'")) << e;
  e = cli_error({"fit", "--seed_everything", "-3"}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, "--seed_everything=-3 is invalid")) << e;
}

TEST(CLI, YamlErrorsNameTheFileLineAndClosestKeys) {
  TempDir dir;
  auto bad = write(dir, "bad.yaml", "trainer:\n  max_epochs: 3\n  devices: [0, 1\nmodel:\n  lr: 0.1\n");
  auto e = cli_error({"fit", "--config", bad}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, bad + ":")) << e;
  EXPECT_TRUE(contains(e, "YAML syntax error")) << e;
  auto tabs = write(dir, "tabs.yaml", "trainer:\n  max_epochs: 3\n bad: : x\n");
  e = cli_error({"fit", "--config", tabs}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, tabs + ":3:")) << e;
  auto key = write(dir, "key.yaml", "trainer:\n  max_epochs: 3\n  max_epcohs: 4\n");
  e = cli_error({"fit", "--config", key}, quiet_cli(dir));
  EXPECT_EQ(e, key +
                   ":3: unknown key 'trainer.max_epcohs'; did you mean 'trainer.max_epochs'?; accepted: the "
                   "Trainer's flags (`lightning fit --help` lists them)");
  auto top = write(dir, "top.yaml", "trainr:\n  max_epochs: 3\n");
  e = cli_error({"fit", "--config", top}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, top + ":2: unknown key 'trainr'; did you mean 'trainer'?")) << e;
  auto arg = write(dir, "arg.yaml", "model:\n  lrr: 0.1\n");
  e = cli_error({"fit", "--config", arg}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, arg + ":2: model.lrr: the model has no argument 'lrr'; did you mean 'lr'?")) << e;
  auto value = write(dir, "value.yaml", "trainer:\n  limit_train_batches: lots\n");
  e = cli_error({"fit", "--config", value}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, value + ":2: trainer.limit_train_batches='lots' is invalid; accepted: a float fraction"))
      << e;
  e = cli_error({"fit", "--config", dir.file("missing.yaml")}, quiet_cli(dir));
  EXPECT_TRUE(contains(e, "config file '" + dir.file("missing.yaml") + "' cannot be read")) << e;
}

// fuzz/corpus/yaml_config/found_long_quoted_key: a key whose written form passes YAML's 1024-character
// limit on implicit keys was written as "key: value", which yaml-cpp does not read back.
TEST(CLI, YamlKeysLongerThanYamlsImplicitLimitRoundTrip) {
  using namespace cli::detail;
  const std::string control(300, '\x13');  // written as 300 "\x13" escapes: 1,202 characters
  const std::string plain(1100, 'k');
  cli::Value tree(cli::Value::Map{});
  tree[control] = cli::Value(int64_t{0});
  tree[plain]["lr"] = cli::Value(0.5);
  tree["short"] = cli::Value(cli::Value::List{cli::Value(int64_t{1}), cli::Value(int64_t{2})});
  tree[plain + "list"] = cli::Value(cli::Value::List{cli::Value("a"), cli::Value("b")});
  const std::string text = to_yaml(tree);
  EXPECT_EQ(text.rfind("? \"\\x13\\x13", 0), 0u) << text.substr(0, 40);
  EXPECT_TRUE(contains(text, "\n: 0\n? " + plain + "\n:\n  lr: 0.5\nshort:\n- 1\n- 2\n? " + plain +
                                 "list\n:\n  - a\n  - b\n"))
      << text;
  const cli::Value back = parse_yaml(text, "round-trip");
  EXPECT_TRUE(back == tree);
  EXPECT_EQ(to_yaml(back), text);
}

// fuzz/corpus/yaml_config/found_recursive_alias: an alias inside the node it names made the
// reader recurse until the stack ran out; aliases of aliases could expand without bound.
TEST(CLI, YamlAliasesThatRecurseOrExplodeAreErrorsNamingTheLine) {
  using namespace cli::detail;
  TempDir dir;
  auto loop = write(dir, "loop.yaml", "trainer:\n  max_epochs: 3\nmodel: &m\n  inner: *m\n");
  auto e = error_of([&] { load_yaml_file(loop); });
  EXPECT_EQ(e, loop + ":3:8: YAML error: an alias refers to a node that contains it (a recursive alias); "
                      "accepted: a YAML mapping");
  e = error_of([&] { parse_yaml("&a [1, *a]", "--model.widths"); });
  EXPECT_TRUE(contains(e, "--model.widths='&a [1, *a]' is invalid: not YAML (an alias refers to a node that "
                          "contains it (a recursive alias)"))
      << e;
  // Ten levels of ten aliases each: 10^10 values if expanded (the limit is 100,000).
  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    laughs += fmt::format("l{}: &l{} [", i, i);
    for (int j = 0; j < 10; ++j) laughs += fmt::format("{}*l{}", j ? ", " : "", i - 1);
    laughs += "]\n";
  }
  e = error_of([&] { load_yaml_file(write(dir, "laughs.yaml", laughs)); });
  EXPECT_TRUE(contains(e, "YAML error: the document expands to more than 100000 values through its aliases")) << e;
  // An alias to a node outside itself is fine, however often it is used.
  auto shared = parse_yaml("base: &b {lr: 0.1}\nx: *b\ny: [*b, *b]\n", "t");
  EXPECT_EQ(shared["y"].as_list().at(1).find("lr")->as_number(), 0.1);
}

// fuzz/corpus/yaml_config/found_tagged_null and found_empty_and_tagged_null_keys: what to_yaml
// writes reads back as the same tree.
TEST(CLI, YamlRoundTripsTaggedScalars) {
  using namespace cli::detail;
  for (const std::string text : {"false:\n!b null", "a: !b null", "a: !!str 1", "a: !x 1", ":\n\t\t\n!b Null"}) {
    const std::string once = to_yaml(parse_yaml(text, "t"));
    EXPECT_EQ(to_yaml(parse_yaml(once, "t")), once) << text;
  }
  // Keys are strings: the null key and a tagged "Null" are two keys, quoted so that neither reads
  // back as a null (yaml-cpp and PyYAML read a plain `Null:` as one).
  EXPECT_EQ(to_yaml(parse_yaml(":\n\t\t\n!b Null", "t")), "'null': null\n'Null': null\n");
  EXPECT_EQ(to_yaml(parse_yaml("true: 1\n'2': 2\nmax_epochs: 3", "t")), "'true': 1\n'2': 2\nmax_epochs: 3\n");
}

namespace {

struct TinyA : BoringModel {
  int64_t width;
  static void add_arguments(cli::Arguments& a) { a.add("width", int64_t{1}, "Width"); }
  explicit TinyA(const cli::InitArgs& a) : width(a.get<int64_t>("width")) {}
};
struct TinyB : TinyA {
  using TinyA::TinyA;
  static void add_arguments(cli::Arguments& a) {
    a.add("width", int64_t{2}, "Width");
    a.add("depth", int64_t{3}, "Depth");
  }
};

}  // namespace

TEST(CLI, SubclassModePicksTheModelByName) {
  auto& registry = cli::ModelRegistry::instance();
  registry.register_class<TinyA>("cli_test_tiny_a", "", true);
  registry.register_class<TinyB>("cli_test_tiny_b", "", true);
  TempDir dir;
  LightningCLI<LightningModule, CliData> cli({"--model", "cli_test_tiny_b", "--model.width", "5"},
                                             no_run(quiet_cli(dir)));
  auto* b = dynamic_cast<TinyB*>(cli.model.get());
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->width, 5);
  EXPECT_EQ(*cli.config().find("model")->find("class_path"), cli::Value("cli_test_tiny_b"));
  auto e = error_of([&] {
    LightningCLI<LightningModule, CliData> c({"--model", "cli_test_tiny_a", "--model.depth", "1"},
                                             no_run(quiet_cli(dir)));
  });
  EXPECT_TRUE(contains(e, "the model class 'cli_test_tiny_a' has no argument 'depth'")) << e;
  e = error_of([&] { LightningCLI<LightningModule, CliData> c(std::vector<std::string>{}, no_run(quiet_cli(dir))); });
  EXPECT_TRUE(contains(e, "a model class is required")) << e;
  registry.remove("cli_test_tiny_a");
  registry.remove("cli_test_tiny_b");
}

TEST(CLI, UnprefixedFlagsAndDefaultSubcommand) {
  TempDir dir;
  auto o = no_run(quiet_cli(dir));
  o.unprefixed_flags = true;
  o.defaults = {{"data.size", 32}};
  TestCLI cli({"--max_epochs", "2", "--lr", "0.5", "--batch_size", "8"}, o);
  EXPECT_EQ(cli.trainer_options().max_epochs, 2);
  EXPECT_EQ(cli.model->lr, 0.5);
  EXPECT_EQ(cli.datamodule->batch_size, 8);
  EXPECT_EQ(cli.datamodule->size, 32);
  auto e = error_of([&] { TestCLI c({"--name", "x"}, o); });
  EXPECT_EQ(e, "--name is ambiguous; accepted: one of --model.name, --data.name");
  auto f = quiet_cli(dir);
  f.default_subcommand = "fit";
  f.save_config_callback = nullptr;
  silenced([&] {
    TestCLI run({"--trainer.max_steps", "1", "--trainer.limit_val_batches", "0"}, f);
    EXPECT_EQ(run.subcommand(), "fit");
    EXPECT_EQ(run.trainer->global_step(), 1);
  });
}

namespace {

// The example, next to this test binary in the build folder (skipped when not built).
std::string example_binary() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/')) + "/examples/fashion_mnist";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

std::pair<int, std::string> run_example(const std::string& args) {
  FILE* pipe = ::popen((example_binary() + " " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t got = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, got);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST(CLIExample, MainJobCommandLineStillWorks) {
  if (example_binary().empty()) GTEST_SKIP() << "examples/fashion_mnist is not built";
  // scripts/main-job's and the README's command line (no subcommand: fit), printed instead of run.
  auto [code, out] =
      run_example("--max_epochs 2 --model mlp --num_workers 2 --batch_size 128 --accelerator cpu --print_config");
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(contains(out, "  accelerator: cpu\n")) << out;
  EXPECT_TRUE(contains(out, "  max_epochs: 2\n")) << out;
  EXPECT_TRUE(contains(out, "model:\n  class_path: mlp\n  init_args:\n    lr: 0.001\n")) << out;
  EXPECT_TRUE(
      contains(out, "data:\n  data_dir: /usr/share/datasets/fashion-mnist\n  batch_size: 128\n  num_workers: 2\n"))
      << out;
}

// The argc/argv constructor: a message and status 2, no exception escaping to std::terminate
// (the unknown-flag and --help exits take the same path; their messages are tested above).
TEST(CLI, AtTheCommandLineBadInputExitsWithAMessageAndStatus2) {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    TestCLI cli(static_cast<int>(argv.size()), argv.data(), quiet_cli(dir));
  };
  EXPECT_EXIT(run({"fit", "--trainer.max_epochs", "-5"}), ::testing::ExitedWithCode(2),
              "Seed set to 1\nerror: max_epochs=-5 is invalid; accepted: an int >= -1 \\(-1: no limit\\)\n$");
}
