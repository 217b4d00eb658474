// Versions: version_N found by scanning the folder, reserved atomically (two loggers created at
// once get different versions), or given as an int or a string.
#include <gtest/gtest.h>

#include <lightning/loggers/csv.h>
#include <lightning/loggers/tensorboard.h>
#include <lightning/utilities/errors.h>

#include "helpers/temp_dir.h"
#include "loggers/event_file_reader.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

namespace L = lightning;
using L::loggers::CSVLogger;
using L::loggers::CSVLoggerOptions;
using L::loggers::TensorBoardLogger;
using L::loggers::TensorBoardLoggerOptions;
using L::testing::TempDir;

TEST(LoggerVersions, NextVersionAfterTheHighestExisting) {
  TempDir tmp;
  ::mkdir((tmp.str() + "/lightning_logs").c_str(), 0777);
  ::mkdir((tmp.str() + "/lightning_logs/version_0").c_str(), 0777);
  ::mkdir((tmp.str() + "/lightning_logs/version_4").c_str(), 0777);
  ::mkdir((tmp.str() + "/lightning_logs/other").c_str(), 0777);
  std::ofstream(tmp.str() + "/lightning_logs/version_9") << "a file, not a version";
  TensorBoardLogger logger(tmp.str());
  EXPECT_EQ(logger.version(), "5");
  EXPECT_EQ(*logger.log_dir(), tmp.str() + "/lightning_logs/version_5");
  CSVLogger csv(tmp.str());
  EXPECT_EQ(csv.version(), "6");  // version_5 is taken now
}

TEST(LoggerVersions, GivenIntOrStringAndEmptyName) {
  TempDir tmp;
  TensorBoardLogger a(tmp.str(), TensorBoardLoggerOptions{.version = 7});
  EXPECT_EQ(a.version(), "7");
  EXPECT_EQ(*a.log_dir(), tmp.str() + "/lightning_logs/version_7");
  CSVLogger b(tmp.str(), CSVLoggerOptions{.name = "", .version = "final"});
  EXPECT_EQ(b.version(), "final");
  EXPECT_EQ(*b.root_dir(), tmp.str());
  EXPECT_EQ(*b.log_dir(), tmp.str() + "/final");
  EXPECT_EQ(b.name(), "");
}

TEST(LoggerOptions, InvalidValuesAreClearErrors) {
  TempDir tmp;
  EXPECT_THROW(TensorBoardLogger(tmp.str(), TensorBoardLoggerOptions{.max_queue = 0}), L::MisconfigurationException);
  EXPECT_THROW(TensorBoardLogger(tmp.str(), TensorBoardLoggerOptions{.flush_secs = 0}), L::MisconfigurationException);
  EXPECT_THROW(CSVLogger(tmp.str(), CSVLoggerOptions{.flush_logs_every_n_steps = 0}), L::MisconfigurationException);
}

TEST(LoggerVersions, ConcurrentThreadsGetDistinctVersions) {
  TempDir tmp;
  constexpr int kThreads = 8;
  std::vector<std::string> versions(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      if (i % 2)
        versions[i] = TensorBoardLogger(tmp.str()).version();
      else
        versions[i] = CSVLogger(tmp.str()).version();
    });
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(versions.begin(), versions.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(L::testing::list_dir(tmp.str() + "/lightning_logs", "version_").size(), static_cast<size_t>(kThreads));
}

TEST(LoggerVersions, ConcurrentProcessesGetDistinctVersions) {
  TempDir tmp;
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child only touches the file system, then leaves without running destructors.
      std::string v = CSVLogger(tmp.str()).version();
      std::ofstream(tmp.str() + "/claimed_" + std::to_string(i)) << v;
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<std::string> claimed;
  for (int i = 0; i < kProcesses; ++i)
    claimed.insert(L::testing::read_file(tmp.str() + "/claimed_" + std::to_string(i)));
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kProcesses));
}
