// Faults injected into whole fits (issue 17): SIGKILL while checkpoints are saved, a
// disk that fills up during a save, exceptions in hooks and DataLoader workers, a NaN loss, and
// corrupt checkpoints or unusable log folders handed to fit. The same faults one function at a
// time are tested in test_serialization.cpp (SerializationAtomic, SerializationBadInput),
// test_dataloader.cpp, test_mnist.cpp and test_faults.cpp.
#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/processes.h"
#include "helpers/python.h"
#include "utilities/fs.h"

#include <lightning/checkpoint/serialization.h>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <regex>
#include <thread>

using namespace lightning;
using namespace lightning::testing;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kStepsPerEpoch = 16;   // 64 samples, batch size 4
constexpr int64_t kReferenceSteps = 400;  // far more than a killed fit gets to

/// BoringModel logging its loss, with a 1 MiB buffer: a save writes and syncs enough bytes for a
/// kill to land inside it.
struct HeavyModel : BoringModel {
  HeavyModel() { register_buffer("ballast", torch::ones({1 << 18})); }
  StepOutput training_step(const Batch& b, int64_t) override {
    auto loss = step(b[0]);
    log("train_loss", loss);
    return loss;
  }
};

/// The same initial weights every time.
std::shared_ptr<HeavyModel> make_model() {
  torch::manual_seed(7);
  return std::make_shared<HeavyModel>();
}

DataLoader train_loader() {
  static const auto data = [] {
    torch::manual_seed(0);
    return random_dataset(64);
  }();
  return DataLoader(data, {.batch_size = 4});
}

torch::Tensor weights_of(const torch::nn::Module& m) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : m.parameters()) parts.push_back(p.detach().flatten());
  return torch::cat(parts);
}

torch::Tensor weights_of(const Dict& checkpoint) {
  const auto state = checkpoint.at("state_dict").toGenericDict();
  return torch::cat({state.at("layer.weight").toTensor().flatten(), state.at("layer.bias").toTensor().flatten()});
}

/// The weights of an uninterrupted fit after each global step (index 0: before training).
const std::vector<torch::Tensor>& reference_weights() {
  static const auto weights = [] {
    struct Record : Callback {
      std::vector<torch::Tensor> after;
      void on_train_batch_end(Trainer& t, LightningModule& m, const StepOutput&, const Batch&, int64_t) override {
        EXPECT_EQ(static_cast<size_t>(t.global_step()), after.size());
        after.push_back(weights_of(m));
      }
    };
    auto model = make_model();
    auto record = std::make_shared<Record>();
    record->after.push_back(weights_of(*model));
    Trainer trainer(quiet({.callbacks = {record}, .max_steps = kReferenceSteps, .limit_val_batches = 0}));
    silenced([&] { trainer.fit(model, train_loader()); });
    return record->after;
  }();
  return weights;
}

/// A checkpoint every step: the two lowest losses (so files are also deleted) and last.ckpt.
std::shared_ptr<ModelCheckpoint> rotating_checkpoints(const std::string& dir) {
  return std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{
      .dirpath = dir, .monitor = "train_loss", .save_last = true, .save_top_k = 2, .every_n_train_steps = 1});
}

bool is_temporary(const std::string& name) { return name[0] == '.' && contains(name, ".ckpt.tmp."); }

std::vector<std::string> sorted_names(const std::string& dir) {
  auto names = lightning::detail::list_dir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<Dict> load_or_fail(const std::string& path) {
  try {
    return torch_load(path).toGenericDict();
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return std::nullopt;
  }
}

/// In a forked child: fits until killed, telling `saved_fd` when the first checkpoint is on disk.
/// Its output goes to `dir`.log.
[[noreturn]] void fit_until_killed(const std::string& dir, int saved_fd) {
  at::set_num_threads(1);  // the parent's OpenMP threads do not exist in this process
  const int log = ::open((dir + ".log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(log, 1);
  ::dup2(log, 2);
  struct TellsFirstSave : RecordingLogger {
    int fd = -1;
    void after_save_checkpoint(const std::string&) override {
      if (fd < 0) return;
      if (::write(fd, "s", 1) != 1) std::perror("fit_until_killed: write");
      ::close(std::exchange(fd, -1));
    }
  };
  auto logger = std::make_shared<TellsFirstSave>();
  logger->fd = saved_fd;
  try {
    Trainer trainer(quiet({.logger = logger, .callbacks = {rotating_checkpoints(dir)}, .max_steps = kReferenceSteps,
                           .limit_val_batches = 0, .enable_checkpointing = true}));
    trainer.fit(make_model(), train_loader());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fit_until_killed: %s\n", e.what());
    ::_exit(2);
  }
  ::_exit(1);  // all steps done before the kill
}

struct Leftovers {
  std::optional<int64_t> last_step;  // of last.ckpt
  int64_t newest_step = 0;           // of the top-k files
  int checkpoints = 0;
  int temporaries = 0;
};

/// Checks what a killed fit left in `dir`: every checkpoint loads and holds the weights of its
/// global step, which its name gives. Links each into `survivors` for Python.
Leftovers check_leftovers(const std::string& dir, const std::string& survivors, const std::string& tag) {
  static const std::regex top_k(R"(epoch=(\d+)-step=(\d+)\.ckpt)");
  const auto& reference = reference_weights();
  Leftovers found;
  for (const auto& name : sorted_names(dir)) {
    const std::string path = dir + "/" + name;
    if (is_temporary(name)) {
      ++found.temporaries;
      continue;
    }
    std::smatch m;
    const bool last = name == "last.ckpt";
    if (!last && !std::regex_match(name, m, top_k)) {
      ADD_FAILURE() << tag << ": unexpected file " << name;
      continue;
    }
    struct stat st {};
    EXPECT_TRUE(::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) << tag << ": " << name << " is no plain file";
    const auto checkpoint = load_or_fail(path);
    if (!checkpoint) continue;
    const int64_t step = checkpoint->at("global_step").toInt();
    if (last) {
      found.last_step = step;
    } else {
      EXPECT_EQ(step, std::stoll(m[2])) << tag << ": " << name;
      EXPECT_EQ(std::stoll(m[1]), (step - 1) / kStepsPerEpoch) << tag << ": " << name;
      found.newest_step = std::max(found.newest_step, step);
    }
    if (step < 0 || step >= static_cast<int64_t>(reference.size())) {
      ADD_FAILURE() << tag << ": " << name << " has global_step " << step;
      continue;
    }
    EXPECT_TRUE(torch::equal(weights_of(*checkpoint), reference[step])) << tag << ": " << name << " at step " << step;
    ++found.checkpoints;
    EXPECT_EQ(::link(path.c_str(), (survivors + "/" + tag + "-" + name).c_str()), 0) << std::strerror(errno);
  }
  return found;
}

/// A fresh Trainer resumes from "last" and trains one step more, to the reference weights.
void check_resume_from_last(const std::string& dir, const Leftovers& left, const std::string& tag) {
  const int64_t from = left.last_step.value_or(0);
  auto model = make_model();
  Trainer trainer(quiet({.callbacks = {rotating_checkpoints(dir)}, .max_steps = from + 1, .limit_val_batches = 0,
                         .enable_checkpointing = true, .default_root_dir = dir}));
  silenced([&] { trainer.fit(model, train_loader(), {}, "last"); });
  if (left.last_step) {
    EXPECT_EQ(trainer.ckpt_path().value_or("<none>"), dir + "/last.ckpt") << tag;
  } else {
    EXPECT_FALSE(trainer.ckpt_path()) << tag << ": resumed from " << *trainer.ckpt_path();
  }
  EXPECT_EQ(trainer.global_step(), from + 1) << tag;
  EXPECT_TRUE(torch::equal(weights_of(*model), reference_weights().at(from + 1))) << tag;
  // Its first save in the folder removed the killed writer's temporary files.
  for (const auto& name : sorted_names(dir)) EXPECT_FALSE(is_temporary(name)) << tag << ": " << name << " was left";
}

constexpr const char* kLoadAllWithPython = R"(
import os, re, sys, torch
folder = sys.argv[1]
n = 0
for name in sorted(os.listdir(folder)):
    c = torch.load(os.path.join(folder, name))
    m = re.search(r'-step=(\d+)\.ckpt$', name)
    assert m is None or c['global_step'] == int(m.group(1)), (name, c['global_step'])
    assert c['state_dict']['layer.weight'].shape == (2, 32), name
    assert c['state_dict']['ballast'].numel() == 1 << 18, name
    n += 1
print('loaded', n)
)";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t thread_count() { return lightning::detail::list_dir("/proc/self/task").size(); }

/// The thread count once it is at most `limit`, or after 10 s (threads that were told to stop
/// may take a moment to exit).
size_t threads_after_settling(size_t limit) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t n = thread_count();
  for (; n > limit && std::chrono::steady_clock::now() < deadline; n = thread_count()) std::this_thread::sleep_for(10ms);
  return n;
}

struct CountsSteps : BoringModel {
  int steps = 0;
  StepOutput training_step(const Batch& b, int64_t i) override {
    ++steps;
    return BoringModel::training_step(b, i);
  }
};

}  // namespace

// A child process fits with a checkpoint every step (top-2 rotation and last.ckpt, 1 MiB each)
// and is killed with SIGKILL at a random moment after its first save. Whatever it left: every
// checkpoint loads here and in Python with the weights of its step, last.ckpt is a complete
// file no older than the save in progress, and resuming from "last" picks it (never a
// temporary file) and continues exactly.
TEST(FaultInjection, SigkillDuringFitLeavesLoadableCheckpointsAndResumesFromLast) {
  const auto& reference = reference_weights();
  ASSERT_EQ(reference.size(), static_cast<size_t>(kReferenceSteps + 1));
  TempDir root;
  const std::string survivors = root.file("survivors");
  ASSERT_EQ(::mkdir(survivors.c_str(), 0755), 0);
  std::mt19937 rng(20250611);
  const int trials = 50;
  int checkpoints = 0, during_a_save = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::string tag = fmt::format("trial{:02}", trial);
    const std::string dir = root.file(tag);
    // The moment counts from the first finished save, so that on a loaded machine the kill
    // still lands among the saves.
    int saved[2];
    ASSERT_EQ(::pipe(saved), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(saved[0]);
      fit_until_killed(dir, saved[1]);
    }
    ::close(saved[1]);
    pollfd first{saved[0], POLLIN, 0};
    const bool started = ::poll(&first, 1, 30000) == 1;
    ::close(saved[0]);
    if (started) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 150000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(started) << tag << ": the child saved no checkpoint in 30 s";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << tag << ": the child ended by itself; its output:\n" << read_text(dir + ".log");

    const auto left = check_leftovers(dir, survivors, tag);
    checkpoints += left.checkpoints;
    during_a_save += left.temporaries > 0;
    // last.ckpt follows each step's top-k save: at most that one save is newer.
    if (left.last_step) {
      EXPECT_LE(left.newest_step, *left.last_step + 1) << tag;
    }
    check_resume_from_last(dir, left, tag);
    if (::testing::Test::HasFailure()) return;  // the later trials would only repeat it
  }
  EXPECT_GE(checkpoints, trials);
  // Most kills land inside a save (saves are most of a step): the window that matters was hit.
  EXPECT_GT(during_a_save, 0);
  ::testing::Test::RecordProperty("kills_during_a_save", during_a_save);
  ::testing::Test::RecordProperty("checkpoints_left", checkpoints);

  if (!python_torch_available()) GTEST_SKIP() << python() << " has no torch: torch.load of the survivors not checked";
  const auto r = run_python(kLoadAllWithPython, root.file("load_all.py"), "'" + survivors + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, fmt::format("loaded {}\n", checkpoints))) << r.output;
}

namespace {

/// In a forked child: fits with `mc` (a checkpoint every step, last.ckpt too), and makes files
/// larger than half a checkpoint impossible (RLIMIT_FSIZE, as a full disk) before the saves of
/// step 3. Writes what the caller of fit saw to `report`, one `key=value` a line.
[[noreturn]] void fit_until_the_disk_fills(std::shared_ptr<ModelCheckpoint> mc, const std::string& report) {
  at::set_num_threads(1);  // the parent's OpenMP threads do not exist in this process
  ::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead of killing the process
  struct FillsTheDiskAtStepThree : Callback {
    std::string last;
    void on_train_batch_end(Trainer& t, LightningModule&, const StepOutput&, const Batch&, int64_t) override {
      if (t.global_step() != 3) return;
      struct stat st {};
      if (::stat(last.c_str(), &st) != 0) ::_exit(3);
      const rlimit limit{static_cast<rlim_t>(st.st_size / 2), static_cast<rlim_t>(st.st_size / 2)};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    }
  };
  auto fill = std::make_shared<FillsTheDiskAtStepThree>();
  fill->last = *mc->dirpath() + "/last.ckpt";
  std::ofstream out(report);
  Trainer trainer(quiet({.callbacks = {fill, mc}, .max_steps = 10, .limit_val_batches = 0, .enable_checkpointing = true}));
  int code = 1;
  try {
    silenced([&] { trainer.fit(make_model(), train_loader()); });
  } catch (const CheckpointError& e) {
    out << "error=" << e.what() << "\n";
    code = 0;
  } catch (const std::exception& e) {
    out << "error=<not a CheckpointError> " << e.what() << "\n";
    code = 2;
  }
  out << "status=" << to_string(trainer.state().status) << "\nglobal_step=" << trainer.global_step()
      << "\nbest_model_path=" << mc->best_model_path << "\nlast_model_path=" << mc->last_model_path
      << "\nbest_k_models=";
  for (const auto& [path, score] : mc->best_k_models) out << path << ",";
  out << "\n";
  out.close();
  ::_exit(code);
}

std::map<std::string, std::string> read_report(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

}  // namespace

// The first save of step 3 fails half-way (EFBIG from RLIMIT_FSIZE, standing in for ENOSPC), with
// the latest checkpoint kept and with all of them ranked by the loss: the caller of fit gets a
// CheckpointError naming the file and the cause, the files of steps 1-2 are intact and no
// temporary file is left, ModelCheckpoint's state names only files that exist, and a new fit
// resumes from step 2 exactly.
TEST(FaultInjection, DiskFullDuringAFitSaveNamesTheFileAndKeepsThePreviousCheckpoint) {
  const auto& reference = reference_weights();
  for (const bool ranked : {false, true}) {
    SCOPED_TRACE(ranked ? "save_top_k=-1 by train_loss" : "the latest checkpoint");
    TempDir root;
    const std::string dir = root.file("checkpoints"), report = root.file("report");
    auto mc = std::make_shared<ModelCheckpoint>(
        ranked ? ModelCheckpointOptions{.dirpath = dir, .monitor = "train_loss", .save_last = true, .save_top_k = -1,
                                        .every_n_train_steps = 1}
               : ModelCheckpointOptions{.dirpath = dir, .save_last = true, .every_n_train_steps = 1});
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::setpgid(0, 0);
      fit_until_the_disk_fills(mc, report);
    }
    ::setpgid(pid, pid);  // for wait_or_kill_group
    bool timed_out = false;
    const int code = wait_or_kill_group(pid, 60s, timed_out);
    auto seen = read_report(report);
    ASSERT_FALSE(timed_out);
    ASSERT_EQ(code, 0) << "1: fit returned, 2: not a CheckpointError, 3: setup failed; " << seen["error"];

    const std::string failed = dir + "/epoch=0-step=3.ckpt", previous = dir + "/epoch=0-step=2.ckpt";
    EXPECT_TRUE(contains(seen["error"], "'" + failed + "'")) << seen["error"];
    EXPECT_TRUE(contains(seen["error"], std::strerror(EFBIG))) << seen["error"];
    EXPECT_EQ(seen["status"], "interrupted");
    EXPECT_EQ(seen["global_step"], "3");
    std::vector<std::string> kept = {"epoch=0-step=2.ckpt", "last.ckpt"};
    if (ranked) {
      kept.insert(kept.begin(), "epoch=0-step=1.ckpt");
      EXPECT_EQ(seen["best_k_models"], dir + "/epoch=0-step=1.ckpt," + previous + ",");
      EXPECT_TRUE(seen["best_model_path"] == previous || seen["best_model_path"] == dir + "/epoch=0-step=1.ckpt")
          << seen["best_model_path"];
    } else {
      EXPECT_EQ(seen["best_model_path"], previous);
    }
    EXPECT_EQ(seen["last_model_path"], dir + "/last.ckpt");
    EXPECT_EQ(sorted_names(dir), kept);
    for (const auto& name : kept) {
      const auto checkpoint = load_or_fail(dir + "/" + name);
      ASSERT_TRUE(checkpoint) << name;
      const int64_t step = name == "epoch=0-step=1.ckpt" ? 1 : 2;
      EXPECT_EQ(checkpoint->at("global_step").toInt(), step) << name;
      EXPECT_TRUE(torch::equal(weights_of(*checkpoint), reference[step])) << name;
    }

    auto model = make_model();
    Trainer trainer(quiet({.max_steps = 5, .limit_val_batches = 0}));
    silenced([&] { trainer.fit(model, train_loader(), {}, previous); });
    EXPECT_EQ(trainer.global_step(), 5);
    EXPECT_TRUE(torch::equal(weights_of(*model), reference[5]));
  }
}

// An exception in a module hook, a callback hook, training_step, or a DataLoader worker (train or
// validation, 2 workers each): every on_exception callback sees it, the loggers are finalised
// with "failed", the caller gets it with its message, and no thread is left running.
TEST(FaultInjection, ExceptionsInHooksAndWorkersRunOnExceptionFinalizeFailedAndStopEveryThread) {
  struct FailsAtSample : Dataset {
    std::shared_ptr<TensorDataset> data = random_dataset(64);
    size_t bad;
    explicit FailsAtSample(size_t b) : bad(b) {}
    size_t size() const override { return data->size(); }
    Batch get(size_t i) const override {
      if (i == bad) throw std::runtime_error(fmt::format("cannot read sample {}", i));
      return data->get(i);
    }
  };
  struct Model : BoringModel {
    std::function<void(Model&, int64_t)> in_step = [](Model&, int64_t) {};
    std::function<void(Model&)> at_epoch_start = [](Model&) {};
    std::shared_ptr<Dataset> train = random_dataset(64), val = random_dataset(64);
    StepOutput training_step(const Batch& b, int64_t i) override {
      in_step(*this, i);
      return BoringModel::training_step(b, i);
    }
    void on_train_epoch_start() override { at_epoch_start(*this); }
    DataLoaders train_dataloader() override { return DataLoader(train, {.batch_size = 4, .num_workers = 2}); }
    DataLoaders val_dataloader() override { return DataLoader(val, {.batch_size = 4, .num_workers = 2}); }
  };
  struct FailsAtBatchEnd : Callback {
    bool armed = false;
    void on_train_batch_end(Trainer&, LightningModule&, const StepOutput&, const Batch&, int64_t i) override {
      if (armed && i == 3) throw std::runtime_error("on_train_batch_end failed at batch 3");
    }
  };
  struct SeesException : Callback {
    std::vector<std::string> seen;
    void on_exception(Trainer&, LightningModule&, const std::exception_ptr& e) override {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        seen.push_back(x.what());
      }
    }
  };
  struct Case {
    const char* label;
    std::function<void(Model&, FailsAtBatchEnd&)> inject;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"module hook", [](Model& m, FailsAtBatchEnd&) {
         m.at_epoch_start = [](Model& self) {
           if (self.current_epoch() == 1) throw std::runtime_error("on_train_epoch_start failed in epoch 1");
         };
       }, "on_train_epoch_start failed in epoch 1"},
      {"callback hook", [](Model&, FailsAtBatchEnd& cb) { cb.armed = true; }, "on_train_batch_end failed at batch 3"},
      {"training_step", [](Model& m, FailsAtBatchEnd&) {
         m.in_step = [](Model&, int64_t i) {
           if (i == 5) throw std::runtime_error("training_step failed at batch 5");
         };
       }, "training_step failed at batch 5"},
      {"train worker", [](Model& m, FailsAtBatchEnd&) { m.train = std::make_shared<FailsAtSample>(21); },
       "cannot read sample 21"},
      {"validation worker", [](Model& m, FailsAtBatchEnd&) { m.val = std::make_shared<FailsAtSample>(9); },
       "cannot read sample 9"},
  };
  auto options = [](std::vector<std::shared_ptr<Logger>> loggers, std::vector<std::shared_ptr<Callback>> callbacks) {
    return quiet({.logger = std::move(loggers), .callbacks = std::move(callbacks), .max_epochs = 2,
                  .limit_val_batches = 4, .num_sanity_val_steps = 0});
  };
  TempDir dir;
  {  // LibTorch's and the logger's threads start once, in a fit that succeeds.
    auto tensorboard = std::make_shared<loggers::TensorBoardLogger>(dir.file("warm-up"));
    Trainer trainer(options({tensorboard}, {}));
    silenced([&] { trainer.fit(std::make_shared<Model>()); });
  }
  const size_t threads_before = thread_count();
  for (const auto& c : cases) {
    auto model = std::make_shared<Model>();
    auto fails = std::make_shared<FailsAtBatchEnd>();
    c.inject(*model, *fails);
    auto sees = std::make_shared<SeesException>();
    auto recording = std::make_shared<RecordingLogger>();
    auto tensorboard = std::make_shared<loggers::TensorBoardLogger>(dir.file(c.label));
    Trainer trainer(options({recording, tensorboard}, {fails, sees}));
    try {
      silenced([&] { trainer.fit(model); });
      ADD_FAILURE() << c.label << ": fit returned";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(e.what(), c.message) << c.label;
    }
    EXPECT_EQ(sees->seen, std::vector<std::string>{c.message}) << c.label;
    EXPECT_EQ(recording->finalized, std::vector<std::string>{"failed"}) << c.label;
    EXPECT_EQ(trainer.state().status, TrainerStatus::Interrupted) << c.label;
    EXPECT_LE(threads_after_settling(threads_before), threads_before) << c.label;
  }
}

// A NaN loss from step 6 on: EarlyStopping(check_finite=true) on the loss's epoch mean stops at
// the end of epoch 1 with Lightning's message (callbacks/early_stopping.py, 2.2.5).
TEST(FaultInjection, NanLossStopsEarlyStoppingWithLightningsMessage) {
  struct NanFromStepSix : BoringModel {
    double epoch0_sum = 0;
    StepOutput training_step(const Batch& b, int64_t) override {
      auto loss = step(b[0]);
      if (global_step() >= 6) loss = loss * std::numeric_limits<float>::quiet_NaN();
      if (current_epoch() == 0) epoch0_sum += loss.item<double>();
      log("train_loss", loss, {.on_step = false, .on_epoch = true});
      return loss;
    }
  };
  auto model = std::make_shared<NanFromStepSix>();
  auto es = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "train_loss", .patience = 100, .verbose = true, .check_finite = true});
  Trainer trainer(quiet({.callbacks = {es}, .max_epochs = 10, .limit_train_batches = 4, .limit_val_batches = 0}));
  const auto printed = silenced([&] { trainer.fit(model); });
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(trainer.global_step(), 8);
  EXPECT_EQ(es->stopped_epoch, 1);
  // The best is epoch 0's mean (the only finite value checked).
  EXPECT_NEAR(es->best_score.item<double>(), model->epoch0_sum / 4, 1e-6);
  const auto expected = fmt::format(
      "Monitored metric train_loss = nan is not finite. Previous best value was {:.3f}. Signaling Trainer to stop.\n",
      es->best_score.item<double>());
  EXPECT_TRUE(contains(printed, expected)) << "expected: " << expected << "printed: " << printed;
  EXPECT_EQ(trainer.state().status, TrainerStatus::Finished);
}

// A real checkpoint, bit-flipped or cut short, given to fit: a CheckpointError naming the file
// before the first step, never a crash.
TEST(FaultInjection, CorruptCheckpointsGivenToFitAreCheckpointErrorsNamingTheFile) {
  TempDir dir;
  auto saved = std::make_shared<BoringModel>();
  Trainer saver(quiet({.max_steps = 2, .limit_val_batches = 0}));
  silenced([&] { saver.fit(saved); });
  saver.save_checkpoint(dir.file("good.ckpt"));
  std::ifstream in(dir.file("good.ckpt"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The record of layer.weight: 64 floats as they are in memory.
  const auto weight = saved->layer->weight.detach().contiguous();
  const auto* raw = static_cast<const char*>(weight.data_ptr());
  const auto record = bytes.find(std::string(raw, raw + weight.nbytes()));
  ASSERT_NE(record, std::string::npos);

  std::vector<std::pair<std::string, std::string>> broken;  // file name, contents
  auto flipped = [&](size_t at) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x10);
    return b;
  };
  broken.emplace_back("flipped-in-weight-record.ckpt", flipped(record + weight.nbytes() / 2));
  const auto pickled = bytes.find("global_step");  // in data.pkl
  ASSERT_NE(pickled, std::string::npos);
  broken.emplace_back("flipped-in-data-pkl.ckpt", flipped(pickled + 3));
  for (size_t size : {size_t{0}, size_t{50}, bytes.size() / 2, bytes.size() - 1})
    broken.emplace_back(fmt::format("cut-at-{}.ckpt", size), bytes.substr(0, size));
  for (const auto& [name, contents] : broken) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << contents;
    auto model = std::make_shared<CountsSteps>();
    Trainer trainer(quiet({.max_steps = 4, .limit_val_batches = 0}));
    std::string message;
    try {
      silenced([&] { trainer.fit(model, std::nullopt, {}, path); });
      ADD_FAILURE() << name << ": loaded";
    } catch (const CheckpointError& e) {
      message = e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": not a CheckpointError: " << e.what();
    }
    EXPECT_TRUE(contains(message, "'" + path + "'")) << name << ": " << message;
    EXPECT_FALSE(contains(message, "INTERNAL ASSERT")) << name << ": " << message;
    EXPECT_EQ(model->steps, 0) << name;
  }
  // Flipped bytes are found by the records' CRCs.
  for (const char* name : {"flipped-in-weight-record.ckpt", "flipped-in-data-pkl.ckpt"}) {
    const auto message = error_of<CheckpointError>([&] { torch_load(dir.file(name)); });
    EXPECT_TRUE(contains(message, "fails its CRC check")) << message;
  }
}

// Log folders that cannot be used, given to fit through CSVLogger and TensorBoardLogger: a clear
// error naming the path before the first step. (Permissions only bind other users than root.)
TEST(FaultInjection, UnusableLogFoldersAreClearErrorsNamingThePathBeforeTraining) {
  TempDir dir;
  std::ofstream(dir.file("a_file")) << "x";
  ASSERT_EQ(::mkdir(dir.file("names_a_file").c_str(), 0755), 0);
  std::ofstream(dir.file("names_a_file/lightning_logs")) << "x";  // where the versions are
  struct Case {
    std::string save_dir;
    std::string named;  // the path the message names
    std::string cause;
  };
  std::vector<Case> cases = {
      {dir.file("a_file"), dir.file("a_file/lightning_logs"), std::strerror(ENOTDIR)},
      {dir.file("names_a_file"), dir.file("names_a_file/lightning_logs"), std::strerror(ENOTDIR)},
  };
  if (::geteuid() != 0) {
    for (const auto& [name, mode] : {std::pair{"unwritable", 0500}, std::pair{"unlistable", 0300}}) {
      ASSERT_EQ(::mkdir(dir.file(name).c_str(), 0755), 0);
      ASSERT_EQ(::mkdir(dir.file(std::string(name) + "/lightning_logs").c_str(), 0755), 0);
      ASSERT_EQ(::mkdir(dir.file(std::string(name) + "/lightning_logs/version_0").c_str(), 0755), 0);
      ASSERT_EQ(::chmod(dir.file(std::string(name) + "/lightning_logs").c_str(), mode), 0);
      cases.push_back({dir.file(name), dir.file(std::string(name) + "/lightning_logs"), std::strerror(EACCES)});
    }
  }
  for (const auto& c : cases) {
    const std::vector<std::pair<std::string, std::shared_ptr<Logger>>> kinds = {
        {"CSVLogger", std::make_shared<loggers::CSVLogger>(c.save_dir)},
        {"TensorBoardLogger", std::make_shared<loggers::TensorBoardLogger>(c.save_dir)}};
    for (const auto& [kind, logger] : kinds) {
      auto model = std::make_shared<CountsSteps>();
      Trainer trainer(quiet({.logger = logger, .max_epochs = 1, .limit_val_batches = 0}));
      const auto message = error_of([&] { silenced([&] { trainer.fit(model); }); });
      const auto label = kind + " in " + c.save_dir;
      EXPECT_TRUE(contains(message, "'" + c.named + "'")) << label << ": " << message;
      EXPECT_TRUE(contains(message, c.cause)) << label << ": " << message;
      EXPECT_EQ(model->steps, 0) << label;
    }
  }
  for (const char* name : {"unwritable", "unlistable"})  // so that TempDir can remove them
    ::chmod(dir.file(std::string(name) + "/lightning_logs").c_str(), 0755);
}
