// The Trainer's side of the loggers: the default TensorBoard logger and its files, several
// loggers at once, v_num in the progress bar, fast_dev_run, an unwritable save_dir.
#include <gtest/gtest.h>

#include <lightning/loggers/loggers.h>

#include "helpers/boring_model.h"
#include "helpers/python.h"
#include "loggers/event_file_reader.h"

#include <sstream>

namespace L = lightning;
using namespace lightning;
using namespace lightning::testing;
using L::loggers::CSVLogger;
using L::loggers::TensorBoardLogger;

namespace {

/// Logs a loss every step and remembers how many training steps ran.
struct LoggingModel : BoringModel {
  int steps = 0;
  bool on_epoch = false;
  StepOutput training_step(const Batch& batch, int64_t i) override {
    ++steps;
    auto loss = step(batch[0]);
    log("train_loss", loss, {.prog_bar = true, .on_step = true, .on_epoch = on_epoch});
    return loss;
  }
};

L::TrainerOptions with_default_logger(const std::string& root, L::TrainerOptions o) {
  o.default_root_dir = root;
  o.enable_progress_bar = o.enable_progress_bar.value_or(false);
  o.enable_model_summary = false;
  return o;  // logger left at its default (true)
}

}  // namespace

TEST(TrainerLoggers, DefaultLoggerIsTensorBoardUnderDefaultRootDir) {
  TempDir tmp;
  auto model = std::make_shared<LoggingModel>();
  model->save_hyperparameters({{"lr", 0.1}});
  L::Trainer trainer(with_default_logger(
      tmp.str(), {.max_epochs = 1, .limit_train_batches = 4, .limit_val_batches = 0, .log_every_n_steps = 2}));
  ASSERT_EQ(trainer.loggers().size(), 1u);
  auto tb = std::dynamic_pointer_cast<TensorBoardLogger>(trainer.logger());
  ASSERT_TRUE(tb);
  EXPECT_EQ(tb->name(), "lightning_logs");
  trainer.fit(model);
  const std::string dir = tmp.str() + "/lightning_logs/version_0";
  EXPECT_EQ(trainer.log_dir(), dir);
  EXPECT_EQ(read_file(dir + "/hparams.yaml"), "lr: 0.1\n");
  auto files = list_dir(dir, "events.out.tfevents.");
  ASSERT_EQ(files.size(), 1u);
  auto events = read_events(dir + "/" + files.front());
  std::vector<std::pair<std::string, int64_t>> tags;
  for (const auto& e : events)
    for (const auto& v : e.values)
      if (v.has(2)) tags.emplace_back(v.string(1), e.step);
  // hp_metric, then rows at steps 1 and 3 (log_every_n_steps=2) with Lightning's "epoch" key.
  std::vector<std::pair<std::string, int64_t>> expected = {
      {"hp_metric", 0}, {"epoch", 1}, {"train_loss", 1}, {"epoch", 3}, {"train_loss", 3}};
  EXPECT_EQ(tags, expected);
}

TEST(TrainerLoggers, SecondRunGetsTheNextVersion) {
  TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    L::Trainer trainer(with_default_logger(tmp.str(), {.max_epochs = 1, .limit_train_batches = 1,
                                                       .limit_val_batches = 0}));
    trainer.fit(std::make_shared<LoggingModel>());
    EXPECT_EQ(trainer.log_dir(), tmp.str() + "/lightning_logs/version_" + std::to_string(run));
    EXPECT_EQ(trainer.logger()->version(), std::to_string(run));
  }
}

TEST(TrainerLoggers, NoHyperparametersNoHpMetric) {
  TempDir tmp;
  L::Trainer trainer(with_default_logger(tmp.str(), {.max_epochs = 1, .limit_train_batches = 2,
                                                     .limit_val_batches = 0, .log_every_n_steps = 1}));
  trainer.fit(std::make_shared<LoggingModel>());  // no save_hyperparameters
  const std::string dir = tmp.str() + "/lightning_logs/version_0";
  EXPECT_EQ(read_file(dir + "/hparams.yaml"), "{}\n");
  auto files = list_dir(dir, "events.out.tfevents.");
  ASSERT_EQ(files.size(), 1u);
  for (const auto& e : read_events(dir + "/" + files.front()))
    for (const auto& v : e.values) EXPECT_TRUE(v.string(1) == "train_loss" || v.string(1) == "epoch") << v.string(1);
}

TEST(TrainerLoggers, SeveralLoggersGetEveryRow) {
  TempDir tmp;
  auto tb = std::make_shared<TensorBoardLogger>(tmp.str());
  auto csv = std::make_shared<CSVLogger>(tmp.str());
  L::Trainer trainer(quiet({.logger = std::vector<std::shared_ptr<L::Logger>>{tb, csv},
                            .max_epochs = 2,
                            .limit_train_batches = 3,
                            .limit_val_batches = 0,
                            .log_every_n_steps = 1}));
  auto model = std::make_shared<LoggingModel>();
  model->on_epoch = true;
  trainer.fit(model);
  EXPECT_EQ(trainer.log_dir(), *tb->log_dir());
  EXPECT_EQ(tb->version(), "0");
  EXPECT_EQ(csv->version(), "1");  // the TensorBoard logger reserved version_0 first, as in Lightning
  EXPECT_EQ(read_file(tmp.str() + "/lightning_logs/version_1/hparams.yaml"), "{}\n");
  const std::string csv_text = read_file(csv->metrics_file_path());
  std::istringstream lines(csv_text);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 1u + 6u + 2u) << csv_text;  // header, 6 step rows, 2 epoch rows
  EXPECT_EQ(rows[0], "epoch,step,train_loss_epoch,train_loss_step\r");
  EXPECT_EQ(rows[4].substr(0, 4), "0,2,");  // the epoch row of epoch 0 at its last step
  auto files = list_dir(*tb->log_dir(), "events.out.tfevents.");
  ASSERT_EQ(files.size(), 1u);
  int train_loss = 0;
  for (const auto& e : read_events(*tb->log_dir() + "/" + files.front()))
    for (const auto& v : e.values) train_loss += v.string(1) == "train_loss_step";
  EXPECT_EQ(train_loss, 6);
}

TEST(TrainerLoggers, VersionShowsInTheProgressBar) {
  TempDir tmp;
  std::ostringstream bar;
  L::Trainer trainer(with_default_logger(
      tmp.str(), {.callbacks = {std::make_shared<L::TQDMProgressBar>(1, &bar)},
                  .max_epochs = 1,
                  .limit_train_batches = 2,
                  .limit_val_batches = 0,
                  .enable_progress_bar = true}));
  trainer.fit(std::make_shared<LoggingModel>());
  EXPECT_NE(bar.str().find("v_num=0"), std::string::npos) << bar.str();
}

TEST(TrainerLoggers, FastDevRunWritesNoLoggerFiles) {
  TempDir tmp;
  auto model = std::make_shared<LoggingModel>();
  L::Trainer trainer(with_default_logger(tmp.str(), {.fast_dev_run = true}));
  // As Lightning: one DummyLogger in place of the TensorBoard logger, and no log_dir.
  ASSERT_EQ(trainer.loggers().size(), 1u);
  EXPECT_NE(dynamic_cast<L::DummyLogger*>(trainer.logger().get()), nullptr);
  EXPECT_EQ(trainer.log_dir(), std::nullopt);
  trainer.fit(model);
  EXPECT_EQ(model->steps, 1);
  EXPECT_TRUE(list_dir(tmp.str()).empty());
}

TEST(TrainerLoggers, FastDevRunKeepsCheckpointCallbacksInactive) {
  TempDir tmp;
  auto user = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions{.dirpath = tmp.file("ckpts")});
  L::Trainer trainer(with_default_logger(tmp.str(), {.callbacks = {user}, .fast_dev_run = 2}));
  trainer.fit(std::make_shared<LoggingModel>());
  EXPECT_EQ(trainer.checkpoint_callback(), user.get());
  EXPECT_EQ(trainer.checkpoint_callbacks().size(), 1u);
  EXPECT_TRUE(user->best_model_path.empty());
  EXPECT_TRUE(list_dir(tmp.str()).empty());

  // Without a user callback, the default ModelCheckpoint is there, and saves nothing either.
  L::Trainer defaults(with_default_logger(tmp.str(), {.fast_dev_run = true}));
  defaults.fit(std::make_shared<LoggingModel>());
  ASSERT_NE(defaults.checkpoint_callback(), nullptr);
  EXPECT_TRUE(defaults.checkpoint_callback()->last_model_path.empty());
  EXPECT_TRUE(list_dir(tmp.str()).empty());
}

TEST(TrainerLoggers, UnwritableSaveDirFailsBeforeTraining) {
  TempDir tmp;
  { std::ofstream(tmp.file("a_file")) << "x"; }
  const std::string root = tmp.file("a_file") + "/runs";
  auto model = std::make_shared<LoggingModel>();
  L::Trainer trainer(with_default_logger(root, {.max_epochs = 1, .limit_train_batches = 2}));
  try {
    trainer.fit(model);
    FAIL() << "expected MisconfigurationException";
  } catch (const L::MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.file("a_file")), std::string::npos) << e.what();
  }
  EXPECT_EQ(model->steps, 0);
}

// Lightning's _log_hyperparams runs in every stage (fit, validate, test, predict): the
// hyperparameters (after save_hyperparameters), the graph and save(). ModelCheckpoint tells the
// loggers of every file it writes.
TEST(TrainerLoggers, EveryStageLogsHyperparametersAndGraphAndLoggersHearOfCheckpoints) {
  TempDir tmp;
  auto logger = std::make_shared<RecordingLogger>();
  auto model = std::make_shared<BoringModel>();
  model->save_hyperparameters({{"lr", 0.1}});
  L::Trainer trainer(quiet({.logger = logger,
                            .max_epochs = 2,
                            .limit_train_batches = 2,
                            .limit_val_batches = 1,
                            .enable_checkpointing = true,
                            .default_root_dir = tmp.str()}));
  trainer.fit(model);
  EXPECT_EQ(logger->hyperparams_calls, 1);
  EXPECT_EQ(logger->graph_calls, 1);
  ASSERT_EQ(logger->saved_checkpoints.size(), 2u);
  EXPECT_TRUE(logger->saved_checkpoints[0].ends_with("/epoch=0-step=2.ckpt")) << logger->saved_checkpoints[0];
  EXPECT_TRUE(logger->saved_checkpoints[1].ends_with("/epoch=1-step=4.ckpt")) << logger->saved_checkpoints[1];
  EXPECT_EQ(logger->saved_checkpoints[1], trainer.checkpoint_callback()->best_model_path);
  trainer.validate(model);
  trainer.test(model);
  trainer.predict(model);
  EXPECT_EQ(logger->hyperparams_calls, 4);
  EXPECT_EQ(logger->graph_calls, 4);
  EXPECT_EQ(logger->saved_checkpoints.size(), 2u);
}

TEST(TrainerLoggers, LoggedStepValueIsTheRowStep) {
  TempDir tmp;
  struct StepLogger : BoringModel {
    StepOutput training_step(const Batch& batch, int64_t i) override {
      log("step", static_cast<double>(100 + i));
      return step(batch[0]);
    }
  };
  auto csv = std::make_shared<CSVLogger>(tmp.str());
  L::Trainer trainer(quiet({.logger = csv, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0,
                            .log_every_n_steps = 1}));
  trainer.fit(std::make_shared<StepLogger>());
  EXPECT_EQ(read_file(csv->metrics_file_path()), "step\r\n100\r\n101\r\n");
}

// The same run in Lightning itself, where the interpreter has it (the device's PyTorch does;
// Debian has no Lightning): every metrics.csv cell, every TensorBoard scalar with its step and
// both hparams.yaml files must match. The logged values depend only on the batch index and the
// epoch, so that the two runs log the same numbers.
constexpr const char* kLightningRun = R"(
import csv, logging, math, os, sys, warnings
ours, theirs = sys.argv[1], sys.argv[2]
warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
import torch
import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset
from tensorboard.backend.event_processing import event_accumulator as ea

class IndexLogging(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.save_hyperparameters({"lr": 0.1, "layers": 2})
        self.layer = torch.nn.Linear(32, 2)
    def training_step(self, batch, i):
        self.log("a", float(i + 10 * self.current_epoch))
        self.log("b", float(i), on_step=False, on_epoch=True)
        self.log("c", float(i), on_step=True, on_epoch=True)
        if self.current_epoch == 1:
            self.log("late", 1.0)
        return self.layer(batch[0]).sum()
    def validation_step(self, batch, i):
        self.log("v", float(i))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(64, 32)), batch_size=1)
    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(64, 32)), batch_size=1)

trainer = pl.Trainer(default_root_dir=theirs, max_epochs=2, limit_train_batches=4, limit_val_batches=2,
                     log_every_n_steps=2, logger=[CSVLogger(theirs, name="csv"), TensorBoardLogger(theirs, name="tb")],
                     enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                     accelerator="cpu", devices=1)
trainer.fit(IndexLogging())

failures = []
def text(path):
    with open(path) as f:
        return f.read()
def rows(root):
    with open(os.path.join(root, "csv/version_0/metrics.csv"), newline="") as f:
        return list(csv.reader(f))
def same(x, y):
    return x == y if "" in (x, y) else math.isclose(float(x), float(y), rel_tol=1e-6)
theirs_rows, ours_rows = rows(theirs), rows(ours)
if theirs_rows[0] != ours_rows[0] or len(theirs_rows) != len(ours_rows) or not all(
        all(same(x, y) for x, y in zip(t, o)) for t, o in zip(theirs_rows[1:], ours_rows[1:])):
    failures.append("metrics.csv differs.\nLightning's:\n%s\nours:\n%s" % (
        text(os.path.join(theirs, "csv/version_0/metrics.csv")), text(os.path.join(ours, "csv/version_0/metrics.csv"))))

def scalars(root):
    acc = ea.EventAccumulator(os.path.join(root, "tb/version_0"), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, round(e.value, 5)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
if scalars(theirs) != scalars(ours):
    failures.append("TensorBoard scalars differ.\nLightning's: %r\nours:        %r" % (scalars(theirs), scalars(ours)))
for name in ("csv", "tb"):
    t, o = text(os.path.join(theirs, name, "version_0/hparams.yaml")), text(os.path.join(ours, name, "version_0/hparams.yaml"))
    if t != o:
        failures.append("%s hparams.yaml differs.\nLightning's:\n%s\nours:\n%s" % (name, t, o))
print("\n".join(failures) if failures else "same rows, scalars and hparams as Lightning %s" % pl.__version__)
sys.exit(1 if failures else 0)
)";

TEST(TrainerLoggers, RowsMatchLightningItself) {
  if (!python_module_available("lightning") || !python_module_available("tensorboard"))
    GTEST_SKIP() << python() << " has no lightning or tensorboard (set LIGHTNING_TEST_PYTHON)";
  struct IndexLogging : BoringModel {
    StepOutput training_step(const Batch& batch, int64_t i) override {
      log("a", static_cast<double>(i + 10 * current_epoch()));
      log("b", static_cast<double>(i), {.on_step = false, .on_epoch = true});
      log("c", static_cast<double>(i), {.on_step = true, .on_epoch = true});
      if (current_epoch() == 1) log("late", 1.0);
      return step(batch[0]);
    }
    StepOutput validation_step(const Batch& batch, int64_t i, int64_t) override {
      log("v", static_cast<double>(i));
      return step(batch[0]);
    }
  };
  TempDir tmp;
  const std::string ours = tmp.file("ours");
  auto model = std::make_shared<IndexLogging>();
  model->save_hyperparameters({{"lr", 0.1}, {"layers", int64_t{2}}});
  L::Trainer trainer(quiet({.logger = std::vector<std::shared_ptr<L::Logger>>{
                                std::make_shared<CSVLogger>(ours, L::loggers::CSVLoggerOptions{.name = "csv"}),
                                std::make_shared<TensorBoardLogger>(ours, L::loggers::TensorBoardLoggerOptions{.name = "tb"})},
                            .max_epochs = 2,
                            .limit_train_batches = 4,
                            .limit_val_batches = 2,
                            .log_every_n_steps = 2}));
  trainer.fit(model);
  auto result = run_python(kLightningRun, tmp.file("lightning_run.py"), ours + " " + tmp.file("theirs"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("same rows"), std::string::npos) << result.output;
}
