#pragma once
/// TQDMProgressBar: Lightning's default progress bar, tqdm's look, readable in log files.
#include "lightning/callbacks/callback.h"
#include "lightning/utilities/ordered_map.h"

#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace lightning {

/// Every option of TQDMProgressBar (Lightning's three, plus where and how to draw).
struct TQDMProgressBarOptions {
  /// Redraw at most every this many batches; 0 disables the bar.
  int refresh_rate = 1;
  /// Row offset of the bars, for several trainers sharing one terminal.
  int process_position = 0;
  /// Keep one finished training bar per epoch on the terminal (else one line is reused).
  bool leave = false;
  /// Where to draw; must outlive the callback.
  std::ostream* out = &std::cerr;
  /// Redraw in place with '\r'. Default: isatty() for std::cerr/std::clog/std::cout, false for any
  /// other stream (then full lines are printed every ~10% of an epoch).
  std::optional<bool> terminal;
  /// Width of a line. Default: the terminal's width; unlimited (a 10-character bar) otherwise.
  std::optional<int> ncols;
  /// On a terminal, at most one redraw per this many seconds (the last batch always draws).
  double min_interval = 0.1;
  /// Draw the bar with " 123456789#" instead of Unicode blocks.
  bool ascii = false;
};

namespace detail {

/// A bar's total when the number of batches is unknown (as `num_training_batches()` reports it).
inline constexpr int64_t kUnknownTotal = std::numeric_limits<int64_t>::max();

/// tqdm's `format_interval`: 65.9 -> "01:05", 3725 -> "1:02:05".
std::string format_time(double seconds);
/// Lightning's `Tqdm.format_num`: 3 significant digits, padded to 5 characters:
/// 0.123456 -> "0.123", 0.1 -> "0.100", 1.0 -> "1.000", 1234.5 -> "1234.5", 1.5e-05 -> "1.5e-5".
std::string format_number(double value);
/// "12.50it/s" (tqdm's `{rate:5.2f}`, so " 1.50it/s" below 10), "?it/s" when 0 or unknown.
std::string format_rate(double items_per_second);

/// Everything one line of a bar shows.
struct BarLine {
  std::string desc;
  int64_t n = 0;
  /// <= 0 or kUnknownTotal: unknown (no percentage, bar or remaining time).
  int64_t total = kUnknownTotal;
  double elapsed = 0;
  /// Count at which the timing started (a resumed epoch); the rate is (n - initial) / elapsed.
  int64_t initial = 0;
  /// Shown as ", k=v, k=v" after the rate.
  std::vector<std::pair<std::string, std::string>> postfix;
  /// Line width; 0: unlimited with a 10-character bar.
  int ncols = 0;
  bool ascii = false;
};

/// tqdm's line with Lightning's format, e.g.
/// "Epoch 0:  45%|████▌     | 45/100 [00:01<00:02, 30.00it/s, v_num=0, train_loss=0.123]";
/// unknown total: "Epoch 0: 45it [00:01, 30.00it/s, v_num=0]".
std::string format_bar_line(const BarLine& line);

/// Decides when a bar draws, without formatting anything. `update` is the per-batch check (one
/// comparison); only when it says a redraw is due does the caller read the clock and call
/// `should_draw`.
///
/// - Terminal: every `refresh_rate` batches and at the total, at most once per `min_interval`
///   seconds (the total always draws).
/// - Not a terminal: at each tenth of the total (10, 20, ..., 100 of 100); with an unknown total
///   at 1, 10, 100, 1000 and then every 1000 batches.
/// - refresh_rate 0: never.
class BarState {
 public:
  BarState() = default;
  BarState(int refresh_rate, bool terminal, double min_interval = 0.1);

  /// Starts over at 0 of `total` (<= 0 or kUnknownTotal: unknown). `draw_at_total = false`
  /// leaves the final state to the caller (the epoch bar draws it at the epoch's end).
  void reset(int64_t total, bool draw_at_total = true);
  /// Sets the count; true when a redraw is due by count (then call `should_draw`).
  bool update(int64_t n) {
    n_ = n;
    return n_ >= next_;
  }
  /// Applies the time throttle and schedules the next redraw; true: draw now.
  bool should_draw(double now);
  /// Records a draw the caller made outside the cadence (e.g. the final state).
  void mark_drawn(double now);

  int64_t n() const { return n_; }
  int64_t total() const { return total_; }
  bool known_total() const { return total_ > 0 && total_ != kUnknownTotal; }
  /// The count at which `update` will next return true.
  int64_t next_draw() const { return next_; }
  /// True when the current count has been drawn.
  bool drawn() const { return drawn_n_ == n_; }
  int refresh_rate() const { return refresh_rate_; }

 private:
  int64_t threshold_after(int64_t n) const;

  int refresh_rate_ = 1;
  bool terminal_ = false;
  double min_interval_ = 0.1;
  bool draw_at_total_ = true;
  int64_t n_ = 0;
  int64_t total_ = kUnknownTotal;
  int64_t next_ = 1;
  int64_t drawn_n_ = -1;
  double last_draw_ = -std::numeric_limits<double>::infinity();
};

/// Seconds on a steady clock.
double monotonic_seconds();
/// Whether `out` is std::cerr/std::clog/std::cout attached to a terminal.
bool is_terminal(const std::ostream* out);
/// The terminal's width for std::cerr/std::clog/std::cout (TIOCGWINSZ, then $COLUMNS); 0 when unknown.
int terminal_columns(const std::ostream* out);

/// One bar on an output stream: counts, decides when to draw (BarState), formats and writes.
/// On a terminal a bar owns the row `position` below the cursor's row and redraws it in place;
/// elsewhere each draw is one full line.
class Bar {
 public:
  using Clock = std::function<double()>;
  /// `ncols`: line width, 0 unlimited, -1 the terminal's width at each draw. `clock` defaults to
  /// monotonic_seconds; tests pass a fake one.
  Bar(std::ostream* out, bool terminal, int refresh_rate, double min_interval = 0.1, int ncols = 0,
      bool ascii = false, Clock clock = {});

  /// Starts the bar at 0 of `total`. Invisible bars count but never write (validation inside
  /// `fit` when not on a terminal: the epoch bar shows its progress).
  void open(std::string desc, int64_t total, int position = 0, bool leave = true, bool visible = true,
            bool draw_at_total = true);
  /// Hot path: sets the count; true when the caller should set the postfix and call `draw()`.
  bool advance_to(int64_t n) {
    if (!active_ || !state_.update(n)) return false;
    return state_.should_draw(clock_());
  }
  void draw();
  /// Draws the final state when it was not drawn yet, then leaves the line (newline) or clears
  /// it (terminal, `leave == false`).
  void close();
  /// Forgets a terminal row this bar still holds (after the caller moved the cursor past it).
  void abandon() {
    on_screen_ = false;
    active_ = false;
  }

  void set_postfix(std::vector<std::pair<std::string, std::string>> postfix) { postfix_ = std::move(postfix); }
  bool on_screen() const { return on_screen_; }
  int position() const { return position_; }
  bool active() const { return active_; }
  const BarState& state() const { return state_; }
  const std::string& desc() const { return desc_; }
  /// The line a draw would write now.
  std::string render() const;

 private:
  void write(const std::string& line);

  std::ostream* out_;
  bool terminal_;
  int ncols_;
  bool ascii_;
  Clock clock_;
  BarState state_;
  std::string desc_;
  std::vector<std::pair<std::string, std::string>> postfix_;
  int position_ = 0;
  bool leave_ = true;
  bool visible_ = true;
  bool active_ = false;
  /// A terminal row holds this bar's line (not yet ended or cleared).
  bool on_screen_ = false;
  size_t last_width_ = 0;
  double start_ = 0;
};

}  // namespace detail

/// Lightning's default progress bar: a training bar per epoch ("Epoch N", counting training and
/// validation batches), and bars for "Sanity Checking", "Validation", "Testing", "Predicting".
/// The postfix shows `v_num` (the logger's version) and what was logged with `prog_bar = true`.
///
///     Trainer trainer({.callbacks = {std::make_shared<lightning::TQDMProgressBar>(/*refresh_rate=*/10)}});
///
/// On a terminal it redraws in place (at most every `refresh_rate` batches and ~10 times a
/// second); in log files and CI it prints one full line every ~10% of an epoch.
class TQDMProgressBar : public Callback {
 public:
  explicit TQDMProgressBar(int refresh_rate = 1, std::ostream* out = &std::cerr);
  explicit TQDMProgressBar(TQDMProgressBarOptions options);
  ~TQDMProgressBar() override;

  int refresh_rate() const { return options_.refresh_rate; }
  int process_position() const { return options_.process_position; }
  bool is_enabled() const { return enabled_ && options_.refresh_rate > 0; }
  bool is_disabled() const { return !is_enabled(); }
  /// Stops drawing (the Trainer does this on non-zero ranks).
  void disable() { enabled_ = false; }
  void enable() { enabled_ = true; }
  /// Whether lines are redrawn in place.
  bool terminal() const { return terminal_; }

  /// Batches done in the current epoch / evaluation dataloader.
  int64_t train_batch_idx() const { return train_batch_idx_; }
  int64_t val_batch_idx() const { return val_batch_idx_; }
  int64_t test_batch_idx() const { return test_batch_idx_; }
  int64_t predict_batch_idx() const { return predict_batch_idx_; }
  /// The epoch bar's total (training plus this epoch's validation batches), kUnknownTotal if unknown.
  int64_t total_batches_current_epoch() const { return total_epoch_batches_; }

  /// The postfix items: `v_num` and `trainer.progress_bar_metrics()`, formatted as Lightning does.
  /// Override to change them (e.g. hide `v_num`). Reads metrics: called only when drawing.
  /// Shown in this order: `v_num`, then the metrics in the order they were first logged.
  virtual OrderedMap<std::string> get_metrics(Trainer& trainer, LightningModule& module);

  void setup(Trainer& trainer, LightningModule& module, const std::string& stage) override;
  void on_sanity_check_start(Trainer& trainer, LightningModule& module) override;
  void on_sanity_check_end(Trainer& trainer, LightningModule& module) override;
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_train_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                               const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_end(Trainer& trainer, LightningModule& module) override;
  void on_predict_start(Trainer& trainer, LightningModule& module) override;
  void on_predict_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, LightningModule& module, const torch::IValue& outputs,
                            const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_end(Trainer& trainer, LightningModule& module) override;
  void on_exception(Trainer& trainer, LightningModule& module, const std::exception_ptr& exception) override;

 private:
  std::vector<std::pair<std::string, std::string>> postfix_items(Trainer& trainer, LightningModule& module);
  /// Records the batch count of an evaluation bar and redraws it when due.
  void advance_eval(int64_t& counter, int64_t batch_idx);
  void end_eval();
  /// Starts the evaluation bar for `dataloader_idx` when the dataloader changed.
  void start_eval_dataloader(const std::string& description, const std::vector<int64_t>& totals,
                             int64_t dataloader_idx, int position, bool leave, bool visible);
  void draw_main(Trainer& trainer, LightningModule& module);
  int64_t epoch_total(Trainer& trainer) const;

  TQDMProgressBarOptions options_;
  bool terminal_;
  bool enabled_ = true;
  detail::Bar main_;
  detail::Bar eval_;
  int64_t train_batch_idx_ = 0;
  int64_t val_batch_idx_ = 0;
  int64_t test_batch_idx_ = 0;
  int64_t predict_batch_idx_ = 0;
  /// Validation batches run in the current training epoch (they advance the epoch bar).
  int64_t val_processed_ = 0;
  int64_t total_epoch_batches_ = detail::kUnknownTotal;
  int64_t eval_dataloader_idx_ = -1;
};

}  // namespace lightning
