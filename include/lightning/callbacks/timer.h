#pragma once
/// Timer: stops training once a time budget is spent (what `max_time` uses).
#include "lightning/callbacks/callback.h"

#include <chrono>
#include <optional>
#include <string>

namespace lightning {

/// Measures time spent in the training, validation and test loops; when `duration` is set,
/// sets `trainer.should_stop` once it has passed, checked after every batch
/// (`interval="step"`) or every epoch (`interval="epoch"`). `min_epochs`/`min_steps` still
/// take precedence, as in Lightning.
class Timer : public Callback {
 public:
  explicit Timer(std::optional<std::chrono::duration<double>> duration = std::nullopt,
                 std::string interval = "step", bool verbose = true);
  /// Seconds elapsed in `stage` ("train", "validate", "test"), so far or in total.
  double time_elapsed(const std::string& stage = "train") const;
  /// Seconds left of the budget (nullopt without a duration).
  std::optional<double> time_remaining(const std::string& stage = "train") const;

  /// `{"time_elapsed": {"train": s, "validate": s, "test": s}}`, as Lightning; a restored
  /// run continues the training clock from the saved value.
  Dict state_dict() const override;
  void load_state_dict(const Dict& state) override;
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_end(Trainer& trainer, LightningModule& module) override;
  void on_fit_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Span {
    std::optional<Clock::time_point> start, end;
  };
  const Span& span(const std::string& stage) const;
  void check_time_remaining(Trainer& trainer);
  std::optional<std::chrono::duration<double>> duration_;
  std::string interval_;
  bool verbose_;
  Span train_, validate_, test_;
  /// Training time of the run a checkpoint came from.
  double offset_ = 0.0;
  // Reading the clock costs ~20 ns; checking every batch is fine.
};

}  // namespace lightning
