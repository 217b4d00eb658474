// CSVLogger: Lightning's metrics.csv layout, header rewrites, non-finite values, hparams.yaml.
#include <gtest/gtest.h>

#include <lightning/loggers/csv.h>
#include <lightning/utilities/errors.h>

#include "helpers/temp_dir.h"
#include "loggers/event_file_reader.h"

#include <chrono>
#include <cmath>
#include <thread>

namespace L = lightning;
using L::loggers::CSVLogger;
using L::loggers::CSVLoggerOptions;
using L::testing::TempDir;

namespace {

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

TEST(CSVLogger, LightningColumnsAndRows) {
  TempDir tmp;
  CSVLogger logger(tmp.str());
  logger.log_metrics({{"train_loss", 0.5}}, 0);
  logger.log_metrics({{"train_loss", 0.25}}, 1);
  logger.log_metrics({{"train_loss_epoch", 0.375}, {"epoch", 0}}, 1);
  logger.finalize("success");
  EXPECT_EQ(logger.metrics_file_path(), tmp.str() + "/lightning_logs/version_0/metrics.csv");
  EXPECT_EQ(L::testing::read_file(logger.metrics_file_path()),
            "epoch,step,train_loss,train_loss_epoch\r\n"
            ",0,0.5,\r\n"
            ",1,0.25,\r\n"
            "0,1,,0.375\r\n");
}

TEST(CSVLogger, NewMetricRewritesTheFileWithTheWiderHeader) {
  TempDir tmp;
  CSVLogger logger(tmp.str(), CSVLoggerOptions{.prefix = "fit"});
  logger.log_metrics({{"loss", 1.0}}, 0);
  logger.save();
  logger.flush();
  EXPECT_EQ(L::testing::read_file(logger.metrics_file_path()), "fit-loss,step\r\n1.0,0\r\n");
  logger.log_metrics({{"loss", 2.0}, {"acc", 0.5}}, 1);
  logger.save();
  logger.flush();
  EXPECT_EQ(L::testing::read_file(logger.metrics_file_path()),
            "fit-acc,fit-loss,step\r\n,1.0,0\r\n0.5,2.0,1\r\n");
  logger.log_metrics({{"loss", 3.0}}, 2);
  logger.finalize("success");
  EXPECT_EQ(L::testing::read_file(logger.metrics_file_path()),
            "fit-acc,fit-loss,step\r\n,1.0,0\r\n0.5,2.0,1\r\n,3.0,2\r\n");
}

TEST(CSVLogger, NanAndInfAreWrittenAsSuch) {
  TempDir tmp;
  CSVLogger logger(tmp.str());
  logger.log_metrics({{"a", std::nan("")}, {"b", INFINITY}, {"c", -INFINITY}, {"d", 1e-5}}, 0);
  logger.finalize("success");
  EXPECT_EQ(L::testing::read_file(logger.metrics_file_path()), "a,b,c,d,step\r\nnan,inf,-inf,1e-05,0\r\n");
}

TEST(CSVLogger, FlushLogsEveryNSteps) {
  TempDir tmp;
  CSVLogger logger(tmp.str(), CSVLoggerOptions{.flush_logs_every_n_steps = 2});
  logger.log_metrics({{"a", 1.0}}, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(exists(logger.metrics_file_path()));  // step 0: not yet
  logger.log_metrics({{"a", 2.0}}, 1);               // (1 + 1) % 2 == 0: written
  bool written = false;
  for (int i = 0; i < 300 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    written = exists(logger.metrics_file_path()) &&
              L::testing::read_file(logger.metrics_file_path()) == "a,step\r\n1.0,0\r\n2.0,1\r\n";
  }
  EXPECT_TRUE(written);
  logger.finalize("success");
}

TEST(CSVLogger, HparamsYaml) {
  TempDir tmp;
  CSVLogger logger(tmp.str(), CSVLoggerOptions{.name = "exp", .version = 3});
  c10::impl::GenericDict opt(c10::StringType::get(), c10::AnyType::get());
  opt.insert("name", std::string("sgd"));
  opt.insert("momentum", 0.9);
  logger.log_hyperparams({{"lr", 1e-3}, {"optimizer", opt}, {"tag", std::string("1.5")}, {"none", c10::IValue()}});
  logger.finalize("success");
  EXPECT_EQ(*logger.log_dir(), tmp.str() + "/exp/version_3");
  EXPECT_EQ(L::testing::read_file(tmp.str() + "/exp/version_3/hparams.yaml"),
            "lr: 0.001\nnone: null\noptimizer:\n  momentum: 0.9\n  name: sgd\ntag: '1.5'\n");
}

TEST(CSVLogger, UnwritableSaveDirIsAClearError) {
  TempDir tmp;
  { std::ofstream(tmp.file("a_file")) << "x"; }
  CSVLogger logger(tmp.file("a_file") + "/logs");
  try {
    logger.log_metrics({{"x", 1.0}}, 0);
    FAIL() << "expected MisconfigurationException";
  } catch (const L::MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.file("a_file")), std::string::npos) << e.what();
  }
}
