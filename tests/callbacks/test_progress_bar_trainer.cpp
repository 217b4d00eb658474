// The progress bar driven by a real Trainer.
#include "helpers/boring_model.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace lightning;
using namespace lightning::testing;

namespace {

std::string fit_with_bar(int refresh_rate, TrainerOptions o) {
  std::ostringstream out;
  o.callbacks = {std::make_shared<TQDMProgressBar>(refresh_rate, &out)};
  o.logger = false;
  o.enable_checkpointing = false;
  o.enable_model_summary = false;
  Trainer trainer(o);
  trainer.fit(std::make_shared<BoringModel>());
  return out.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST(ProgressBarTrainer, RefreshRateZeroWritesNothing) {
  EXPECT_EQ(fit_with_bar(0, {.max_epochs = 2, .limit_train_batches = 10, .limit_val_batches = 2}), "");
}

TEST(ProgressBarTrainer, NonTerminalPrintsALineEveryTenPercentPerEpoch) {
  auto text = fit_with_bar(1, {.max_epochs = 2, .limit_train_batches = 20, .limit_val_batches = 0});
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(count(text, "Epoch 0:"), 10u) << text;
  EXPECT_EQ(count(text, "Epoch 1:"), 10u) << text;
  EXPECT_NE(text.find("Epoch 1: 100%"), std::string::npos) << text;
  EXPECT_NE(text.find("20/20"), std::string::npos) << text;
}

TEST(ProgressBarTrainer, ShowsProgressBarMetricsAndVersion) {
  struct Logs : BoringModel {
    StepOutput training_step(const Batch& b, int64_t i) override {
      auto loss = step(b[0]);
      log("my_loss", loss, {.prog_bar = true});
      return loss;
    }
  };
  std::ostringstream out;
  auto logger = std::make_shared<RecordingLogger>();
  Trainer trainer({.logger = logger, .callbacks = {std::make_shared<TQDMProgressBar>(1, &out)}, .max_epochs = 1,
                   .limit_train_batches = 10, .limit_val_batches = 0, .enable_checkpointing = false,
                   .enable_model_summary = false});
  trainer.fit(std::make_shared<Logs>());
  auto text = out.str();
  EXPECT_NE(text.find("v_num=7"), std::string::npos) << text;
  EXPECT_NE(text.find("my_loss="), std::string::npos) << text;
}
