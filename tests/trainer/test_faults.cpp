// Failures found by killing, starving or feeding bad input to real runs (issue 11): each test
// reproduces one and checks the fix (the original error survives cleanup, SIGTERM always exits
// with 143, bad checkpoint fields are CheckpointErrors naming file and key, folders are checked
// before the first step).
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <lightning/checkpoint/serialization.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

using namespace lightning;
using namespace lightning::testing;

namespace {

/// A logger whose files live on a full disk.
struct FullDiskLogger : RecordingLogger {
  void finalize(const std::string& status) override {
    RecordingLogger::finalize(status);
    throw std::runtime_error("SummaryWriter: No space left on device");
  }
};

struct FailingStep : BoringModel {
  StepOutput training_step(const Batch& b, int64_t i) override {
    if (i == 1) throw std::runtime_error("boom in training_step");
    return BoringModel::training_step(b, i);
  }
};

/// The folder a death test's parent and child share (the child re-runs the test body).
std::string shared_folder(const char* variable, std::optional<TempDir>& own) {
  const char* inherited = std::getenv(variable);
  if (!inherited) own.emplace();
  const std::string root = inherited ? std::string(inherited) : own->str();
  ::setenv(variable, root.c_str(), 1);
  return root;
}

/// A short fit's checkpoint, to break.
void write_good_checkpoint(const TempDir& dir) {
  Trainer trainer(quiet({.max_steps = 2, .limit_val_batches = 0}));
  trainer.fit(std::make_shared<BoringModel>());
  trainer.save_checkpoint(dir.file("good.ckpt"));
}

Dict child(const Dict& d, const std::string& key) { return d.at(key).toGenericDict(); }

}  // namespace

TEST(Faults, CleanupErrorsNeverReplaceTheOriginalException) {
  auto logger = std::make_shared<FullDiskLogger>();
  struct ThrowingCallback : Callback {
    void on_exception(Trainer&, LightningModule&, const std::exception_ptr&) override {
      throw std::runtime_error("callback cleanup failed too");
    }
  };
  Trainer trainer(quiet({.logger = logger, .callbacks = {std::make_shared<ThrowingCallback>()}, .max_epochs = 1,
                         .limit_val_batches = 0}));
  try {
    silenced([&] { trainer.fit(std::make_shared<FailingStep>()); });
    FAIL() << "expected the training_step exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom in training_step");
  }
  EXPECT_EQ(logger->finalized, (std::vector<std::string>{"failed"}));
  EXPECT_TRUE(trainer.state().stopped());
}

TEST(Faults, CleanupErrorsAreReportedOnStderr) {
  auto logger = std::make_shared<FullDiskLogger>();
  Trainer trainer(quiet({.logger = logger, .max_epochs = 1, .limit_val_batches = 0}));
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(trainer.fit(std::make_shared<FailingStep>()), std::runtime_error);
  const auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "logger 'recording'.finalize(\"failed\")")) << err;
  EXPECT_TRUE(contains(err, "No space left on device")) << err;
}

TEST(Faults, SigtermWithAFailingHpcSaveStillRunsOnExceptionAndExitsWith143) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::optional<TempDir> own;
  const std::string root = shared_folder("LIGHTNING_TEST_FAULTS_DIR", own);
  // At step 3 the root folder is replaced by a file (a disk that turned read-only, full...).
  struct BreakRootThenSigterm : Callback {
    std::string root;
    explicit BreakRootThenSigterm(std::string r) : root(std::move(r)) {}
    void on_train_batch_end(Trainer& t, LightningModule&, const StepOutput&, const Batch&, int64_t) override {
      if (t.global_step() != 3) return;
      ASSERT_EQ(std::system(("rm -rf '" + root + "/runs' && touch '" + root + "/runs'").c_str()), 0);
      std::raise(SIGTERM);
    }
  };
  EXPECT_EXIT(
      {
        Trainer trainer(quiet({.callbacks = {std::make_shared<BreakRootThenSigterm>(root),
                                             std::make_shared<OnExceptionCheckpoint>(root + "/elsewhere")},
                               .max_epochs = 1,
                               .limit_val_batches = 0,
                               .default_root_dir = root + "/runs"}));
        trainer.fit(std::make_shared<BoringModel>());
      },
      ::testing::ExitedWithCode(143), "saving the HPC checkpoint after SIGTERM");
  ::unsetenv("LIGHTNING_TEST_FAULTS_DIR");
  // The OnExceptionCheckpoint writing elsewhere had its chance.
  ASSERT_TRUE(std::ifstream(root + "/elsewhere/on_exception.ckpt").good());
  EXPECT_EQ(torch_load(root + "/elsewhere/on_exception.ckpt").toGenericDict().at("global_step").toInt(), 3);
}

TEST(Faults, SigtermDuringTestSaysNoCheckpointAndExitsWith143) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct SigtermInTest : BoringModel {
    StepOutput test_step(const Batch& b, int64_t i, int64_t d) override {
      if (i == 1) std::raise(SIGTERM);
      return BoringModel::test_step(b, i, d);
    }
  };
  EXPECT_EXIT(
      {
        Trainer trainer(quiet({}));
        trainer.test(std::make_shared<SigtermInTest>(), DataLoaders{}, std::nullopt, false);
      },
      ::testing::ExitedWithCode(143), "stopping after the current batch, then exiting \\(outside `fit` there is no");
}

TEST(Faults, CheckpointFieldsOfTheWrongTypeNameFileKeyAndExpectedType) {
  TempDir dir;
  write_good_checkpoint(dir);
  struct Case {
    const char* label;
    std::function<void(Dict&)> corrupt;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"optimizer_states is an int", [](Dict& c) { c.insert_or_assign("optimizer_states", int64_t{5}); },
       {"'optimizer_states' is a Int", "expected a list"}},
      {"_batches_that_stepped is a string",
       [](Dict& c) {
         child(child(child(c, "loops"), "fit_loop"), "epoch_loop.state_dict")
             .insert_or_assign("_batches_that_stepped", std::string("ten"));
       },
       {"loops.fit_loop", "_batches_that_stepped", "expected an int"}},
      {"callback states keyed by ints",
       [](Dict& c) {
         Dict states(c10::IntType::get(), c10::AnyType::get());
         states.insert(int64_t{1}, new_dict());
         c.insert_or_assign("callbacks", states);
       },
       {"'callbacks'", "key", "expected"}},
      {"a 3-byte RNG state",
       [](Dict& c) { child(c, "rng_states").insert_or_assign("torch", torch::zeros({3}, torch::kUInt8)); },
       {"rng_states.torch", "3 elements", "expected a uint8 tensor of"}},
      {"loop counters that cannot be",
       [](Dict& c) {
         child(child(child(child(c, "loops"), "fit_loop"), "epoch_progress"), "total")
             .insert_or_assign("completed", int64_t{-4});
       },
       {"loops.fit_loop", "completed=-4", "expected ints >= 0"}},
      {"a param group without its params list",
       [](Dict& c) {
         c.at("optimizer_states").toListRef()[0].toGenericDict().at("param_groups").toListRef()[0].toGenericDict()
             .insert_or_assign("params", int64_t{0});
       },
       {"optimizer_states[0]", "wrong type"}},
  };
  for (const auto& c : cases) {
    Dict broken = torch_load(dir.file("good.ckpt")).toGenericDict();
    c.corrupt(broken);
    const std::string path = dir.file(std::string(c.label) + ".ckpt");
    torch_save(broken, path);
    Trainer trainer(quiet({.max_steps = 4, .limit_val_batches = 0}));
    std::string message;
    try {
      silenced([&] { trainer.fit(std::make_shared<BoringModel>(), std::nullopt, {}, path); });
      ADD_FAILURE() << c.label << ": no exception";
    } catch (const CheckpointError& e) {
      message = e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.label << ": not a CheckpointError: " << e.what();
    }
    EXPECT_TRUE(contains(message, path)) << c.label << ": " << message;
    for (const auto& s : c.expected) EXPECT_TRUE(contains(message, s)) << c.label << ": '" << s << "' not in " << message;
    EXPECT_FALSE(contains(message, "INTERNAL ASSERT")) << c.label << ": " << message;
  }
}

TEST(Faults, LegacyTorchSaveFilesSayHowToConvert) {
  TempDir dir;
  // The first bytes of torch.save(..., _use_new_zipfile_serialization=False): the pickled magic number.
  const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
                                  0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};
  std::ofstream(dir.file("old.pt"), std::ios::binary).write(reinterpret_cast<const char*>(legacy), sizeof legacy);
  const auto message = error_of<CheckpointError>([&] { torch_load(dir.file("old.pt")); });
  EXPECT_TRUE(contains(message, dir.file("old.pt"))) << message;
  EXPECT_TRUE(contains(message, "legacy (non-zip) format")) << message;
  EXPECT_TRUE(contains(message, "_use_new_zipfile_serialization=True")) << message;
}

TEST(Faults, UnwritableDefaultRootDirFailsBeforeTheFirstStepWithoutALogger) {
  TempDir dir;
  std::ofstream(dir.file("a_file")) << "x";
  struct Counting : BoringModel {
    int steps = 0;
    StepOutput training_step(const Batch& b, int64_t i) override {
      ++steps;
      return BoringModel::training_step(b, i);
    }
  };
  for (const std::string& root : {dir.file("a_file"), dir.file("a_file/runs")}) {
    auto model = std::make_shared<Counting>();
    Trainer trainer(quiet({.max_epochs = 1, .limit_val_batches = 0, .default_root_dir = root}));
    const auto message = error_of([&] { trainer.fit(model); });
    EXPECT_EQ(model->steps, 0) << root;
    // The loggers' form of the message.
    EXPECT_TRUE(contains(message, "cannot create the folder of HPC checkpoints")) << message;
    EXPECT_TRUE(contains(message, "'" + root + "'")) << message;
    EXPECT_TRUE(contains(message, "Not a directory")) << message;
    EXPECT_TRUE(contains(message, "accepted: a default_root_dir where this process may create folders")) << message;
  }
}

TEST(Faults, OutOfMemoryNamesTheStageTheBatchSizeAndTheFinder) {
  // CUDA's caching allocator throws c10::OutOfMemoryError; the same error type is raised here.
  struct Oom : BoringModel {
    bool in_validation = false;
    StepOutput training_step(const Batch& b, int64_t i) override {
      if (!in_validation) TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
      return BoringModel::training_step(b, i);
    }
    StepOutput validation_step(const Batch& b, int64_t i, int64_t d) override {
      if (in_validation) TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
      return BoringModel::validation_step(b, i, d);
    }
    DataLoaders train_dataloader() override { return random_loader(64, 16); }
    DataLoaders val_dataloader() override { return random_loader(64, 8); }
  };
  auto model = std::make_shared<Oom>();
  std::string printed;
  {
    Trainer trainer(quiet({.max_epochs = 1, .num_sanity_val_steps = 0}));
    printed = silenced([&] { EXPECT_THROW(trainer.fit(model), c10::OutOfMemoryError); });
    EXPECT_EQ(trainer.state().status, TrainerStatus::Interrupted);
  }
  EXPECT_TRUE(contains(printed, "Out of memory while running `train` with batch_size=16 (the train dataloader's) on "
                                "global rank 0"))
      << printed;
  EXPECT_TRUE(contains(printed, "Tuner(trainer).scale_batch_size(model), or the BatchSizeFinder callback"));

  model->in_validation = true;
  Trainer validating(quiet({}));
  printed = silenced([&] { EXPECT_THROW(validating.validate(model), c10::OutOfMemoryError); });
  EXPECT_TRUE(contains(printed, "while running `validate` with batch_size=8 (the val dataloader's)")) << printed;

  // Any other error says nothing of memory.
  Trainer failing(quiet({.max_epochs = 1}));
  printed = silenced([&] { EXPECT_THROW(failing.fit(std::make_shared<FailingStep>()), std::exception); });
  EXPECT_FALSE(contains(printed, "Out of memory")) << printed;
}
