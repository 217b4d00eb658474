// lightning-plot (tools/lightning_plot): the page it makes from real runs written by CSVLogger and
// TensorBoardLogger (one run, two runs compared), which source it reads, bad inputs, and the page
// rendered by headless Chromium.
#include <gtest/gtest.h>

#include <lightning/loggers/loggers.h>

#include "helpers/boring_model.h"
#include "helpers/processes.h"
#include "loggers/event_file_reader.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace L = lightning;
using namespace lightning::testing;
using L::loggers::CSVLogger;
using L::loggers::CSVLoggerOptions;
using L::loggers::SummaryWriter;
using L::loggers::TensorBoardLogger;
using L::loggers::TensorBoardLoggerOptions;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

/// The children of this process now (orphans of what we ran are reparented to us, see `run`).
std::set<pid_t> children() {
  std::set<pid_t> out;
  for (const auto& name : list_dir("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat("/proc/" + name + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid()) out.insert(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

struct Result {
  int exit_code = -1;  // 128 + signal when killed
  bool timed_out = false;
  std::string out, err;
};

/// Runs `argv` (found on PATH) in a process group of its own with stdout and stderr in files
/// under `scratch`, for at most `timeout`. Whatever it leaves behind (its group, and orphans
/// reparented to this process, such as Chromium's crash handler) is killed and reaped.
Result run(const std::vector<std::string>& argv, const std::string& scratch, std::chrono::seconds timeout) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const std::set<pid_t> before = children();
  const std::string out_path = scratch + "/stdout", err_path = scratch + "/stderr";
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execvp(c_args[0], c_args.data());
    ::_exit(127);
  }
  Result result;
  if (pid < 0) return result;
  ::setpgid(pid, pid);
  result.exit_code = wait_or_kill_group(pid, timeout, result.timed_out);
  ::kill(-pid, SIGKILL);
  for (pid_t child : children())
    if (!before.count(child)) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

/// The tool: ctest passes its path; run directly, the test binary finds it in the build folder.
std::string plot_tool() {
  if (const char* path = std::getenv("LIGHTNING_PLOT"); path && *path) return path;
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string self(exe, n > 0 ? static_cast<size_t>(n) : 0);
  return self.substr(0, self.rfind('/')) + "/tools/lightning-plot";
}

Result plot(const std::vector<std::string>& args, const std::string& scratch) {
  std::vector<std::string> argv{plot_tool()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, scratch, std::chrono::seconds(30));
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

/// data-curves of each chart, by data-metric.
std::map<std::string, int> charts_of(const std::string& html) {
  std::map<std::string, int> out;
  static const std::regex chart(R"re(<svg class="chart"[^>]*data-metric="([^"]*)" data-curves="(\d+)")re");
  for (std::sregex_iterator it(html.begin(), html.end(), chart), end; it != end; ++it)
    out[(*it)[1]] = std::stoi((*it)[2]);
  return out;
}

/// data-points of each curve, by (run, metric).
std::map<std::pair<std::string, std::string>, int> curves_of(const std::string& html) {
  std::map<std::pair<std::string, std::string>, int> out;
  static const std::regex curve(R"re(<g class="curve" data-run="([^"]*)" data-series="([^"]*)" data-points="(\d+)")re");
  for (std::sregex_iterator it(html.begin(), html.end(), curve), end; it != end; ++it)
    out[{(*it)[1], (*it)[2]}] = std::stoi((*it)[3]);
  return out;
}

/// Values per metric column of a metrics.csv, read independently of the tool.
std::map<std::string, int> csv_counts(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::string line;
  std::vector<std::string> header;
  std::map<std::string, int> out;
  auto split = [](const std::string& l) {
    std::vector<std::string> fields(1);
    for (char c : l)
      if (c == ',')
        fields.emplace_back();
      else if (c != '\r')
        fields.back() += c;
    return fields;
  };
  while (std::getline(lines, line)) {
    if (header.empty()) {
      header = split(line);
      continue;
    }
    const auto fields = split(line);
    for (size_t i = 0; i < fields.size() && i < header.size(); ++i)
      if (!fields[i].empty() && header[i] != "step" && header[i] != "epoch") ++out[header[i]];
  }
  return out;
}

/// Logs what a real model logs: the training loss per step and per epoch, the validation loss.
struct PlotModel : BoringModel {
  double lr;
  explicit PlotModel(double lr) : lr(lr) { save_hyperparameters({{"lr", lr}, {"batch_size", 1}, {"optimizer", "SGD"}}); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = step(batch[0]);
    log("train_loss", loss, {.on_step = true, .on_epoch = true});
    return loss;
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t i, int64_t d) override {
    log("val_loss", step(batch[0]));
    return BoringModel::validation_step(batch, i, d);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr));
  }
};

/// Three epochs of 4 steps with both loggers in one version folder; returns that folder.
std::string fit_run(const std::string& root, int version, double lr) {
  auto tb = std::make_shared<TensorBoardLogger>(root, TensorBoardLoggerOptions{.version = version});
  auto csv = std::make_shared<CSVLogger>(root, CSVLoggerOptions{.version = version});
  L::Trainer trainer(quiet({.logger = std::vector<std::shared_ptr<L::Logger>>{tb, csv},
                            .max_epochs = 3,
                            .limit_train_batches = 4,
                            .limit_val_batches = 2,
                            .num_sanity_val_steps = 0,
                            .log_every_n_steps = 1,
                            .enable_checkpointing = true,
                            .default_root_dir = root}));
  silenced([&] { trainer.fit(std::make_shared<PlotModel>(lr)); });
  return root + "/lightning_logs/version_" + std::to_string(version);
}

/// The event file of a version folder.
std::string event_file(const std::string& dir) {
  const auto files = list_dir(dir, "events.out.tfevents.");
  if (files.size() != 1) throw std::runtime_error("expected one event file in " + dir);
  return dir + "/" + files.front();
}

}  // namespace

class LightningPlot : public ::testing::Test {
 protected:
  /// Two real runs, fitted once for the whole suite.
  struct Runs {
    TempDir tmp;
    std::string v0, v1;
  };
  static void SetUpTestSuite() {
    runs_ = new Runs;
    runs_->v0 = fit_run(runs_->tmp.str(), 0, 0.1);
    runs_->v1 = fit_run(runs_->tmp.str(), 1, 0.05);
  }
  static void TearDownTestSuite() {
    delete runs_;
    runs_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(::access(plot_tool().c_str(), X_OK), 0)
        << "lightning-plot not found at " << plot_tool() << " (set LIGHTNING_PLOT or build the lightning-plot target)";
  }
  static Runs* runs_;
  TempDir scratch_;
};

LightningPlot::Runs* LightningPlot::runs_ = nullptr;

TEST_F(LightningPlot, OneRunHasAChartPerQuantityWithEveryLoggedPoint) {
  const std::string out = scratch_.file("one.html");
  const auto result = plot({"-o", out, runs_->v0}, scratch_.str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string html = read_file(out);

  // train_loss_step, train_loss_epoch and val_loss share the axes of "loss".
  EXPECT_EQ(charts_of(html), (std::map<std::string, int>{{"loss", 3}}));
  EXPECT_EQ(count(html, "<svg class=\"chart\""), 1u);
  const auto curves = curves_of(html);
  // 3 epochs x 4 steps logged every step; one epoch value and one validation per epoch.
  const std::map<std::pair<std::string, std::string>, int> expected = {
      {{"version_0", "train_loss_step"}, 12}, {{"version_0", "train_loss_epoch"}, 3}, {{"version_0", "val_loss"}, 3}};
  EXPECT_EQ(curves, expected);
  for (const auto& [metric, n] : csv_counts(runs_->v0 + "/metrics.csv"))
    EXPECT_EQ(curves.at({"version_0", metric}), n) << metric;
  // Both loggers wrote the folder: every curve comes from metrics.csv, none twice.
  EXPECT_EQ(count(html, "points from metrics.csv)"), 3u);
  // Epoch markers: epochs 1 and 2 start after the last steps of epochs 0 and 1.
  EXPECT_NE(html.find("<title>epoch 1 starts after step 3</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>epoch 2 starts after step 7</title>"), std::string::npos);

  for (const char* key : {"batch_size", "lr", "optimizer"})
    EXPECT_NE(html.find(std::string("<tr data-hparam=\"") + key + "\">"), std::string::npos) << key;
  EXPECT_NE(html.find("<tr data-hparam=\"lr\"><td><code>lr</code></td><td>0.1</td></tr>"), std::string::npos);
  EXPECT_EQ(count(html, "<tr data-hparam="), 3u);

  const auto checkpoints = list_dir(runs_->v0 + "/checkpoints");
  EXPECT_EQ(checkpoints, std::vector<std::string>{"epoch=2-step=12.ckpt"});
  for (const auto& name : checkpoints)
    EXPECT_NE(html.find("data-checkpoint=\"" + name + "\""), std::string::npos) << name;

  // Self-contained: nothing to fetch (the SVG namespace is a name, not a request).
  for (const char* external : {"<link", "src=", "@import", "url(", "https:"})
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  EXPECT_EQ(count(html, "http:"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
}

TEST_F(LightningPlot, EventFilesAloneGiveTheSameCurves) {
  // The TensorBoard file of the same run, alone in a folder: what our writer encodes is read back.
  const std::string dir = scratch_.file("tb_only");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const std::string events = event_file(runs_->v0);
  write_file(dir + "/" + events.substr(events.rfind('/') + 1), read_file(events));
  const std::string out = scratch_.file("tb.html");
  const auto result = plot({"-o", out, dir}, scratch_.str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string html = read_file(out);
  // hp_metric = -1 is TensorBoardLogger's placeholder, not a measurement: no chart.
  EXPECT_EQ(charts_of(html), (std::map<std::string, int>{{"loss", 3}}));
  const std::map<std::pair<std::string, std::string>, int> expected = {
      {{"tb_only", "train_loss_step"}, 12}, {{"tb_only", "train_loss_epoch"}, 3}, {{"tb_only", "val_loss"}, 3}};
  EXPECT_EQ(curves_of(html), expected);
  EXPECT_NE(html.find("<title>epoch 2 starts after step 7</title>"), std::string::npos);
  EXPECT_NE(html.find("<p class=\"none\">No hparams.yaml.</p>"), std::string::npos);
}

TEST_F(LightningPlot, BothSourcesGiveEachMetricOnce) {
  // metrics.csv has "a"; the event file has "a" (other values) and "b": a from the CSV, b from the events.
  const std::string dir = scratch_.file("both");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  write_file(dir + "/metrics.csv", "a,epoch,step\r\n1.0,0,0\r\n2.0,0,1\r\n");
  {
    SummaryWriter writer(dir);
    for (int step = 0; step < 3; ++step) writer.add_scalar("a", 10.0 + step, step);
    writer.add_scalar("b", 5.0, 0);
    writer.add_scalar("b", 4.0, 2);
    writer.close();
  }
  const std::string out = scratch_.file("both.html");
  const auto result = plot({"-o", out, dir}, scratch_.str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string html = read_file(out);
  EXPECT_EQ(charts_of(html), (std::map<std::string, int>{{"a", 1}, {"b", 1}}));
  const std::map<std::pair<std::string, std::string>, int> expected = {{{"both", "a"}, 2}, {{"both", "b"}, 2}};
  EXPECT_EQ(curves_of(html), expected);
  EXPECT_NE(html.find("a (2 points from metrics.csv)"), std::string::npos);
  EXPECT_NE(html.find("b (2 points from events.out.tfevents."), std::string::npos);
}

TEST_F(LightningPlot, TwoRunsShareTheChartsWithACurvePerRun) {
  const std::string out = scratch_.file("two.html");
  const auto result = plot({"-o", out, "--title", "lr <sweep>", runs_->v0, runs_->v1}, scratch_.str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string html = read_file(out);
  EXPECT_NE(html.find("<title>lr &lt;sweep&gt;</title>"), std::string::npos);
  EXPECT_EQ(charts_of(html), (std::map<std::string, int>{{"loss", 6}}));
  const auto curves = curves_of(html);
  EXPECT_EQ(curves.size(), 6u);
  for (const char* run : {"version_0", "version_1"}) {
    EXPECT_EQ(curves.at({run, "train_loss_step"}), 12) << run;
    EXPECT_EQ(curves.at({run, "val_loss"}), 3) << run;
  }
  // The legend names run and metric; hyperparameters side by side, the differing one marked.
  EXPECT_NE(html.find("version_1 · val_loss"), std::string::npos);
  EXPECT_NE(html.find("<tr data-hparam=\"lr\" class=\"differs\"><td><code>lr</code></td><td>0.1</td><td>0.05</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr data-hparam=\"optimizer\"><td><code>optimizer</code></td><td>SGD</td><td>SGD</td>"),
            std::string::npos);
  EXPECT_EQ(count(html, "data-checkpoint=\"epoch=2-step=12.ckpt\""), 2u);
}

TEST_F(LightningPlot, BadInputsExitWithStatus2AndWriteNothing) {
  const std::string out = scratch_.file("bad.html");
  auto expect_failure = [&](const std::vector<std::string>& args, const std::vector<std::string>& message) {
    std::vector<std::string> argv{"-o", out};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = plot(argv, scratch_.str());
    EXPECT_EQ(result.exit_code, 2) << result.err;
    for (const auto& part : message) EXPECT_NE(result.err.find(part), std::string::npos) << part << " in: " << result.err;
    EXPECT_FALSE(exists(out)) << args.back();
    EXPECT_FALSE(exists(out + ".tmp")) << args.back();
  };
  expect_failure({scratch_.file("missing")}, {"lightning-plot: ", scratch_.file("missing"), "no such folder"});

  const std::string empty = scratch_.file("empty");
  ASSERT_EQ(::mkdir(empty.c_str(), 0755), 0);
  expect_failure({empty}, {empty, "no metrics.csv and no events.out.tfevents.* file"});
  // The lightning_logs folder instead of a version folder: the message says what to pass.
  expect_failure({runs_->tmp.str() + "/lightning_logs"}, {"version_0, version_1: pass those folders"});

  const std::string events = read_file(event_file(runs_->v0));
  const std::string truncated = scratch_.file("truncated");
  ASSERT_EQ(::mkdir(truncated.c_str(), 0755), 0);
  write_file(truncated + "/events.out.tfevents.1.host.1.0", events.substr(0, events.size() - 3));
  expect_failure({truncated}, {truncated + "/events.out.tfevents.1.host.1.0: truncated record at byte "});

  const std::string bad_crc = scratch_.file("bad_crc");
  ASSERT_EQ(::mkdir(bad_crc.c_str(), 0755), 0);
  std::string flipped = events;
  flipped[flipped.size() - 8] ^= 0x20;  // inside the last record's data
  write_file(bad_crc + "/events.out.tfevents.1.host.1.0", flipped);
  expect_failure({bad_crc}, {bad_crc + "/events.out.tfevents.1.host.1.0: bad CRC of the record data at byte "});

  const std::string bad_csv = scratch_.file("bad_csv");
  ASSERT_EQ(::mkdir(bad_csv.c_str(), 0755), 0);
  write_file(bad_csv + "/metrics.csv", "epoch,step,val_loss\r\n0,3,0.5\r\n0,7,abc\r\n");
  expect_failure({bad_csv}, {bad_csv + "/metrics.csv: line 3, column 'val_loss': 'abc' is not a number"});

  // One bad folder among good ones: still nothing written.
  expect_failure({runs_->v0, truncated}, {"truncated record"});
  expect_failure({"--colour", runs_->v0}, {"unknown option '--colour'"});
  const auto no_dirs = plot({}, scratch_.str());
  EXPECT_EQ(no_dirs.exit_code, 2);
  EXPECT_NE(no_dirs.err.find("no VERSION_DIR given"), std::string::npos) << no_dirs.err;
  const auto help = plot({"--help"}, scratch_.str());
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: lightning-plot [-o OUT.html] [--title T] VERSION_DIR..."), std::string::npos);
}

TEST_F(LightningPlot, EveryChartRendersInHeadlessChromium) {
  const std::string chromium = find_on_path("chromium");
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium): the page is not rendered";
  const std::string out = scratch_.file("two.html");
  ASSERT_EQ(plot({"-o", out, runs_->v0, runs_->v1}, scratch_.str()).exit_code, 0);
  const size_t charts = charts_of(read_file(out)).size();
  ASSERT_GT(charts, 0u);
  // The page's script marks a chart after load only if each curve has geometry in the browser.
  const auto result = run({chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" +
                           scratch_.file("chromium-profile"), "--dump-dom", "file://" + out},
                          scratch_.str(), std::chrono::seconds(60));
  ASSERT_FALSE(result.timed_out) << "chromium did not finish within 60 s: " << result.err;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count(result.out, "data-rendered=\"true\""), charts) << result.out.substr(0, 2000);
  EXPECT_NE(result.out.find("data-charts-rendered=\"" + std::to_string(charts) + "\""), std::string::npos);
}
