// Profilers: Lightning's action names around the Trainer's hooks and loops, SimpleProfiler's
// report layout (goldens from Lightning's formatting code run under Python), report files per
// stage, and AdvancedProfiler's operator tables and Chrome traces.
#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/temp_dir.h"
#include "profilers/report.h"

#include <lightning/profilers/advanced.h>
#include <lightning/profilers/simple.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lightning::testing {
namespace {

using profilers::AdvancedProfiler;
using profilers::Profiler;
using profilers::SimpleProfiler;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ProfiledModel : BoringModel {};

/// Remembers every start and stop, and what setup was given.
struct RecordingProfiler : Profiler {
  std::vector<std::string> events;
  std::vector<std::string> stages;
  std::optional<std::string> given_log_dir;
  void start(const std::string& a) override { events.push_back("start " + a); }
  void stop(const std::string& a) override { events.push_back("stop " + a); }
  void setup(const std::string& stage, std::optional<int64_t> rank, std::optional<std::string> log_dir) override {
    stages.push_back(stage);
    given_log_dir = log_dir;
    Profiler::setup(stage, rank, log_dir);
  }
  int64_t count(const std::string& event) const { return std::count(events.begin(), events.end(), event); }
};

int64_t calls_of(const SimpleProfiler& p, const std::string& action) {
  for (const auto& [name, durations] : p.recorded_durations())
    if (name == action) return static_cast<int64_t>(durations.size());
  return 0;
}

TEST(Profilers, PythonFormattingGoldens) {
  // f"{v:.5}" in CPython 3.11.
  const std::vector<std::pair<double, std::string>> goldens{
      {1.0, "1.0"},         {0.5, "0.5"},       {12345.0, "1.2345e+04"}, {123456.0, "1.2346e+05"},
      {1.2345678e-05, "1.2346e-05"}, {3.14159265, "3.1416"}, {99.999999, "100.0"}, {1e-07, "1e-07"},
      {2.5e-05, "2.5e-05"}, {0.1234567, "0.12346"}, {10000.0, "1e+04"}, {1234.0, "1234.0"},
      {99999.9, "1e+05"},   {-12345.0, "-1.2345e+04"}, {0.0, "0.0"}, {0.0001, "0.0001"}};
  for (const auto& [value, expected] : goldens) EXPECT_EQ(profilers::detail::python_general(value, 5), expected) << value;
  EXPECT_EQ(profilers::detail::expand_tabs("\n|  Total \t|  -"), "\n|  Total        |  -");
}

TEST(Profilers, SimpleReportLayoutIsLightnings) {
  SimpleProfiler p;
  for (int i = 0; i < 3; ++i) {
    auto scope = p.profile("Action");  // 6 characters wide, as Lightning's golden below
  }
  const auto report = p.summary();
  // Lightning's header and rule for a longest action name of 6 characters (Python golden).
  const std::string header =
      "\n|  Action\t|  Mean duration (s)\t|  Num calls      \t|  Total time (s) \t|  Percentage %   \t|";
  const std::string rule = "\n" + std::string(114, '-');
  EXPECT_EQ(report.rfind("Profiler Report\n", 0), 0u) << report;
  EXPECT_TRUE(contains(report, rule + header + rule)) << report;
  EXPECT_TRUE(contains(report, "\n|  Total \t|  -              \t|  3              \t|  ")) << report;
  EXPECT_TRUE(contains(report, "\t|  100 %          \t|" + rule + "\n|  Action\t|  ")) << report;
  EXPECT_EQ(report.substr(report.size() - rule.size() - 1), rule + "\n");
  EXPECT_EQ(calls_of(p, "Action"), 3);

  SimpleProfiler brief(std::nullopt, std::nullopt, /*extended=*/false);
  { auto s = brief.profile("step"); }
  const auto short_report = brief.summary();
  EXPECT_TRUE(contains(short_report, "\n|  Action\t|  Mean duration (s)\t|  Total time (s) \t|")) << short_report;
  EXPECT_FALSE(contains(short_report, "Num calls"));
}

TEST(Profilers, SimpleErrorsAreLightnings) {
  SimpleProfiler p;
  p.start("a");
  EXPECT_EQ(error_of<std::invalid_argument>([&] { p.start("a"); }), "Attempted to start a which has already started.");
  EXPECT_EQ(error_of<std::invalid_argument>([&] { p.stop("b"); }),
            "Attempting to stop recording an action (b) which was never started.");
  p.stop("a");
  // A scope stops its action when an exception leaves it.
  EXPECT_THROW(
      {
        auto scope = p.profile("failing");
        throw std::runtime_error("boom");
      },
      std::runtime_error);
  EXPECT_EQ(calls_of(p, "failing"), 1);
}

TEST(Profilers, TrainerTimesHooksAndLoopsUnderLightningsNames) {
  auto profiler = std::make_shared<SimpleProfiler>();
  TempDir dir;
  Trainer trainer(quiet({.max_epochs = 2, .limit_train_batches = 4, .limit_val_batches = 2, .num_sanity_val_steps = 0,
                         .enable_checkpointing = true, .profiler = profiler, .default_root_dir = dir.str()}));
  auto model = std::make_shared<ProfiledModel>();
  silenced([&] { trainer.fit(model); });  // the report goes to stderr
  EXPECT_TRUE(trainer.profiling());
  EXPECT_EQ(&trainer.profiler(), profiler.get());
  EXPECT_EQ(calls_of(*profiler, "run_training_epoch"), 2);
  EXPECT_EQ(calls_of(*profiler, "run_training_batch"), 8);
  EXPECT_EQ(calls_of(*profiler, "[Strategy]SingleDeviceStrategy.training_step"), 8);
  EXPECT_EQ(calls_of(*profiler, "[Strategy]SingleDeviceStrategy.batch_to_device"), 8 + 4);
  // As in Lightning, the strategy calls the module's steps itself: they are timed as the strategy's.
  EXPECT_EQ(calls_of(*profiler, "[LightningModule]ProfiledModel.training_step"), 0);
  EXPECT_EQ(calls_of(*profiler, "[Strategy]SingleDeviceStrategy.backward"), 8);
  EXPECT_EQ(calls_of(*profiler, "[LightningModule]ProfiledModel.on_train_batch_start"), 8);
  EXPECT_EQ(calls_of(*profiler, "[LightningModule]ProfiledModel.optimizer_step"), 8);
  EXPECT_EQ(calls_of(*profiler, "[LightningModule]ProfiledModel.configure_optimizers"), 1);
  EXPECT_EQ(calls_of(*profiler, "[LightningModule]ProfiledModel.on_train_epoch_end"), 2);
  // One fetch per batch, the look-ahead's included: 4 per epoch.
  EXPECT_EQ(calls_of(*profiler, "[_TrainingEpochLoop].train_dataloader_next"), 8);
  EXPECT_EQ(calls_of(*profiler, "[_EvaluationLoop].val_next"), 4);
  int64_t checkpoint_epoch_ends = 0;
  for (const auto& [name, durations] : profiler->recorded_durations())
    if (name.rfind("[Callback]ModelCheckpoint{", 0) == 0 && name.size() > 19 &&
        name.substr(name.size() - 19) == ".on_train_epoch_end")
      checkpoint_epoch_ends += static_cast<int64_t>(durations.size());
  EXPECT_EQ(checkpoint_epoch_ends, 2);
  const auto report = profiler->summary();
  EXPECT_EQ(report.rfind("FIT Profiler Report\n", 0), 0u);
  EXPECT_TRUE(contains(report, "|  run_training_batch "));
}

TEST(Profilers, HooksNestAndEveryStartIsStopped) {
  auto profiler = std::make_shared<RecordingProfiler>();
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 1, .profiler = profiler}));
  trainer.fit(std::make_shared<ProfiledModel>());
  EXPECT_EQ(profiler->stages, std::vector<std::string>{"fit"});
  EXPECT_EQ(profiler->given_log_dir, trainer.log_dir());
  std::vector<std::string> open;
  for (const auto& e : profiler->events) {
    if (e.rfind("start ", 0) == 0) {
      open.push_back(e.substr(6));
    } else {
      ASSERT_FALSE(open.empty()) << e;
      EXPECT_EQ(open.back(), e.substr(5));  // LIFO
      open.pop_back();
    }
  }
  EXPECT_TRUE(open.empty());
  // The step's closure runs inside the module's optimizer_step, inside run_training_batch.
  const auto& ev = profiler->events;
  auto at = [&](const std::string& e) { return std::find(ev.begin(), ev.end(), e) - ev.begin(); };
  const std::vector<std::string> nested{"start run_training_epoch",
                                        "start run_training_batch",
                                        "start [LightningModule]ProfiledModel.optimizer_step",
                                        "start [Strategy]SingleDeviceStrategy.training_step",
                                        "stop [Strategy]SingleDeviceStrategy.training_step",
                                        "start [Strategy]SingleDeviceStrategy.backward",
                                        "stop [Strategy]SingleDeviceStrategy.backward",
                                        "stop [LightningModule]ProfiledModel.optimizer_step",
                                        "stop run_training_batch"};
  for (size_t i = 1; i < nested.size(); ++i) EXPECT_LT(at(nested[i - 1]), at(nested[i])) << nested[i];
  EXPECT_EQ(profiler->count("start [Strategy]SingleDeviceStrategy.validation_step"), 1 + 1);  // sanity check + epoch

  trainer.test(std::make_shared<ProfiledModel>(), DataLoaders{}, std::nullopt, /*verbose=*/false);
  EXPECT_EQ(profiler->stages, (std::vector<std::string>{"fit", "test"}));
  EXPECT_EQ(profiler->count("start [_EvaluationLoop].test_next"), 64);
  trainer.predict(std::make_shared<ProfiledModel>());
  EXPECT_EQ(profiler->count("start [_PredictionLoop].predict_next"), 64);
}

TEST(Profilers, ReportFilesPerStage) {
  TempDir dir;
  auto profiler = std::make_shared<SimpleProfiler>(dir.str(), "perf");
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 1, .limit_test_batches = 3,
                         .profiler = profiler}));
  auto model = std::make_shared<ProfiledModel>();
  trainer.fit(model);
  const auto fit_report = read_file(dir.file("fit-perf.txt"));
  EXPECT_EQ(fit_report.rfind("FIT Profiler Report\n", 0), 0u) << fit_report;
  EXPECT_TRUE(contains(fit_report, "|  run_training_epoch"));
  trainer.test(model, DataLoaders{}, std::nullopt, false);
  const auto test_report = read_file(dir.file("test-perf.txt"));
  EXPECT_EQ(test_report.rfind("TEST Profiler Report\n", 0), 0u) << test_report;
  EXPECT_TRUE(contains(test_report, "[_EvaluationLoop].test_next"));

  // Only a filename: the report goes into the log folder.
  TempDir root;
  auto in_log_dir = std::make_shared<SimpleProfiler>(std::nullopt, "perf");
  Trainer logged({.logger = std::make_shared<loggers::CSVLogger>(root.str()), .max_epochs = 1,
                  .limit_train_batches = 1, .limit_val_batches = 0, .enable_checkpointing = false,
                  .enable_progress_bar = false, .enable_model_summary = false, .profiler = in_log_dir});
  logged.fit(std::make_shared<ProfiledModel>());
  ASSERT_TRUE(logged.log_dir());
  EXPECT_TRUE(contains(read_file(*logged.log_dir() + "/fit-perf.txt"), "FIT Profiler Report"));

  // No filename: printed.
  Trainer printed(quiet({.max_epochs = 1, .limit_train_batches = 1, .limit_val_batches = 0, .profiler = "simple"}));
  const auto err = silenced([&] { printed.fit(std::make_shared<ProfiledModel>()); });
  EXPECT_TRUE(contains(err, "FIT Profiler Report\n")) << err;
  EXPECT_TRUE(contains(err, "|  Total ")) << err;
}

TEST(Profilers, AdvancedReportsOperatorsAndWritesAChromeTrace) {
  TempDir dir;
  auto profiler = std::make_shared<AdvancedProfiler>(dir.str(), "adv");
  Trainer trainer(quiet({.max_epochs = 1, .limit_train_batches = 3, .limit_val_batches = 1, .profiler = profiler}));
  trainer.fit(std::make_shared<ProfiledModel>());
  const auto report = read_file(dir.file("fit-adv.txt"));
  EXPECT_EQ(report.rfind("FIT Profiler Report\n", 0), 0u) << report.substr(0, 200);
  EXPECT_TRUE(contains(report, "Profile stats for: run_training_batch\n3 calls, ")) << report.substr(0, 2000);
  EXPECT_TRUE(contains(report, "Profile stats for: [Strategy]SingleDeviceStrategy.training_step"));
  EXPECT_TRUE(contains(report, "aten::")) << report.substr(0, 2000);
  EXPECT_TRUE(contains(report, "Self CPU (ms)"));
  EXPECT_EQ(profiler->trace_path(), dir.file("fit-adv.pt.trace.json"));
  const auto trace = read_file(dir.file("fit-adv.pt.trace.json"));
  EXPECT_EQ(trace.rfind("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", 0), 0u);
  EXPECT_EQ(trace.substr(trace.size() - 4), "\n]}\n");
  EXPECT_TRUE(contains(trace, R"("name": "run_training_batch", "cat": "user_annotation", "ph": "X")")) << trace.substr(0, 500);
  EXPECT_TRUE(contains(trace, R"("cat": "cpu_op")"));
  // Callback names hold quotes and braces: escaped, the file stays JSON.
  EXPECT_FALSE(contains(trace, "\"name\": \"[Callback]ModelCheckpoint{\"monitor"));
  // The stage's profiles are forgotten after its report (Lightning's teardown).
  EXPECT_TRUE(profiler->stats().empty());
}

TEST(Profilers, AdvancedLimitsRowsAndTimesOutsideATrainer) {
  AdvancedProfiler p(std::nullopt, std::nullopt, 2);
  {
    auto scope = p.profile("matmuls");
    auto a = torch::randn({8, 8});
    for (int i = 0; i < 3; ++i) a = torch::mm(a, a).tanh() + 1;
  }
  ASSERT_EQ(p.stats().size(), 1u);
  EXPECT_EQ(p.stats()[0].calls, 1);
  EXPECT_EQ(p.stats()[0].operators.at("aten::mm").calls, 3);
  EXPECT_GE(p.stats()[0].operators.at("aten::mm").cpu_total_us, p.stats()[0].operators.at("aten::mm").self_cpu_us);
  const auto report = p.summary();
  EXPECT_TRUE(contains(report, "Profile stats for: matmuls\n1 calls, ")) << report;
  EXPECT_TRUE(contains(report, "; 2 of ")) << report;
  EXPECT_EQ(error_of([] { AdvancedProfiler(std::nullopt, std::nullopt, 0); }),
            "AdvancedProfiler(line_count_restriction=0) is invalid; accepted: a fraction in (0, 1] or a row count > 1");
}

TEST(Profilers, ReportFileNamesCarryTheRankUnderSeveralProcesses) {
  TempDir dir;
  SimpleProfiler p(dir.str(), "perf");
  p.setup("validate", 1, "/elsewhere");  // dirpath given: the log folder does not replace it
  { auto s = p.profile("x"); }
  p.describe();
  EXPECT_TRUE(contains(read_file(dir.file("validate-perf-1.txt")), "VALIDATE Profiler Report"));
  // Appended, as Lightning opens the file with "a".
  p.describe();
  const auto twice = read_file(dir.file("validate-perf-1.txt"));
  EXPECT_NE(twice.find("VALIDATE Profiler Report"), twice.rfind("VALIDATE Profiler Report"));
}

TEST(Profilers, AdvancedKeepsOnlyDurationsWhileAnotherProfilerRecords) {
  AdvancedProfiler outer, inner;
  outer.start("outer");
  {
    auto s = inner.profile("inner");
    auto a = torch::mm(torch::ones({4, 4}), torch::ones({4, 4}));
  }
  outer.stop("outer");
  ASSERT_EQ(inner.stats().size(), 1u);
  EXPECT_EQ(inner.stats()[0].calls, 1);
  EXPECT_TRUE(inner.stats()[0].operators.empty());
  ASSERT_EQ(outer.stats().size(), 1u);
  EXPECT_EQ(outer.stats()[0].operators.at("aten::mm").calls, 1);
}

TEST(Profilers, FlagValues) {
  Trainer off(quiet({}));
  EXPECT_FALSE(off.profiling());
  EXPECT_NE(dynamic_cast<profilers::PassThroughProfiler*>(&off.profiler()), nullptr);
  Trainer simple(quiet({.profiler = "Simple"}));  // Lightning lowercases the name
  EXPECT_NE(dynamic_cast<SimpleProfiler*>(&simple.profiler()), nullptr);
  Trainer advanced(quiet({.profiler = "advanced"}));
  EXPECT_NE(dynamic_cast<AdvancedProfiler*>(&advanced.profiler()), nullptr);
  Trainer pytorch(quiet({.profiler = "pytorch"}));
  EXPECT_NE(dynamic_cast<AdvancedProfiler*>(&pytorch.profiler()), nullptr);
  EXPECT_EQ(error_of([] { Trainer t(quiet({.profiler = "fancy"})); }),
            "profiler='fancy' is invalid; accepted: 'simple', 'advanced', 'pytorch' (LibTorch's profiler, as "
            "'advanced'), 'passthrough', or a Profiler object");
  EXPECT_EQ(error_of([] {
              Trainer t({.enable_checkpointing = false, .enable_progress_bar = false, .enable_model_summary = false,
                         .profiler = "simple", .barebones = true});
            }),
            "profiler='simple' is invalid together with barebones=true; accepted: unset");
}

}  // namespace
}  // namespace lightning::testing
