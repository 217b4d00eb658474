#include "lightning/callbacks/progress_bar.h"

#include "lightning/loggers/logger.h"
#include "lightning/trainer/state.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace lightning {

namespace detail {

namespace {

/// Python's `str(float)`: shortest round-trip digits, always with a '.' or an exponent.
std::string python_float_repr(double value) {
  std::string s = fmt::format("{}", value);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

/// tqdm's `.replace('e+0', 'e+').replace('e-0', 'e-')`: "1.5e-05" -> "1.5e-5".
std::string strip_exponent_zero(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if ((s[i] == '+' || s[i] == '-') && i > 0 && s[i - 1] == 'e' && i + 1 < s.size() && s[i + 1] == '0') ++i;
  }
  return out;
}

/// Columns a UTF-8 string takes (every code point one column: our bars use no wide characters).
size_t display_width(std::string_view s) {
  size_t width = 0;
  for (unsigned char c : s) width += (c & 0xC0) != 0x80;
  return width;
}

/// The first `width` columns of `s`.
std::string trim_display(const std::string& s, size_t width) {
  size_t columns = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (columns == width) return s.substr(0, i);
      ++columns;
    }
  }
  return s;
}

bool known(int64_t total) { return total > 0 && total != kUnknownTotal; }

int fd_of(const std::ostream* out) {
  if (out == &std::cerr || out == &std::clog) return STDERR_FILENO;
  if (out == &std::cout) return STDOUT_FILENO;
  return -1;
}

}  // namespace

std::string format_time(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto total = static_cast<int64_t>(seconds);
  const int64_t s = total % 60, minutes = total / 60, m = minutes % 60, h = minutes / 60;
  if (h > 0) return fmt::format("{:d}:{:02d}:{:02d}", h, m, s);
  return fmt::format("{:02d}:{:02d}", m, s);
}

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // tqdm's format_num: 3 significant digits unless str() is shorter.
  const std::string g = strip_exponent_zero(fmt::format("{:.3g}", value));
  const std::string repr = python_float_repr(value);
  std::string n = g.size() < repr.size() ? g : repr;
  // Lightning pads floats to 5 characters so the postfix does not jitter.
  constexpr size_t kPad = 5;
  if (n.find('e') == std::string::npos) {
    if (n.find('.') == std::string::npos && n.size() < kPad) n += '.';
    if (n.size() < kPad) n.append(kPad - n.size(), '0');
  }
  return n;
}

std::string format_rate(double items_per_second) {
  if (!(items_per_second > 0) || !std::isfinite(items_per_second)) return "?it/s";
  return fmt::format("{:5.2f}it/s", items_per_second);
}

std::string format_bar_line(const BarLine& line) {
  const std::string prefix = line.desc.empty() ? std::string() : line.desc + ": ";
  const std::string elapsed = format_time(line.elapsed);
  const double done = static_cast<double>(line.n - line.initial);
  const double rate = line.elapsed > 0 && done > 0 ? done / line.elapsed : 0.0;
  std::string postfix;
  for (const auto& [key, value] : line.postfix) postfix += fmt::format(", {}={}", key, value);

  std::string text;
  if (!known(line.total)) {
    text = fmt::format("{}{}it [{}, {}{}]", prefix, line.n, elapsed, format_rate(rate), postfix);
  } else {
    const double total = static_cast<double>(line.total);
    const std::string remaining =
        rate > 0 ? format_time(std::max(0.0, (total - static_cast<double>(line.n)) / rate)) : "?";
    const double frac = static_cast<double>(line.n) / total;
    const std::string l_bar = fmt::format("{}{:3.0f}%|", prefix, frac * 100);
    const std::string r_bar =
        fmt::format("| {}/{} [{}<{}, {}{}]", line.n, line.total, elapsed, remaining, format_rate(rate), postfix);
    int bars = 10;
    if (line.ncols > 0) {
      bars = std::max<int>(1, line.ncols - static_cast<int>(display_width(l_bar) + display_width(r_bar)));
    }
    // tqdm's Bar: full blocks, one partial block, then blanks.
    static const char* const kUnicode[] = {" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};
    static const char* const kAscii[] = {" ", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#"};
    const char* const* charset = line.ascii ? kAscii : kUnicode;
    const int nsyms = line.ascii ? 10 : 8;
    const double clamped = std::clamp(frac, 0.0, 1.0);
    const auto ticks = static_cast<int64_t>(clamped * bars * nsyms);
    const int64_t full = ticks / nsyms, partial = ticks % nsyms;
    std::string bar;
    for (int64_t i = 0; i < full; ++i) bar += charset[nsyms];
    if (full < bars) {
      bar += charset[partial];
      bar.append(static_cast<size_t>(bars - full - 1), ' ');
    }
    text = l_bar + bar + r_bar;
  }
  if (line.ncols > 0 && display_width(text) > static_cast<size_t>(line.ncols)) {
    text = trim_display(text, static_cast<size_t>(line.ncols));
  }
  return text;
}

// --- BarState ------------------------------------------------------------------------------

BarState::BarState(int refresh_rate, bool terminal, double min_interval)
    : refresh_rate_(refresh_rate), terminal_(terminal), min_interval_(min_interval) {
  TORCH_CHECK(refresh_rate >= 0, "Invalid refresh_rate: ", refresh_rate, " (must be >= 0)");
  next_ = threshold_after(0);
}

void BarState::reset(int64_t total, bool draw_at_total) {
  total_ = total;
  draw_at_total_ = draw_at_total;
  n_ = 0;
  drawn_n_ = -1;
  // last_draw_ is kept: the time throttle holds across epochs.
  next_ = threshold_after(0);
}

int64_t BarState::threshold_after(int64_t n) const {
  constexpr int64_t kNever = kUnknownTotal;
  if (refresh_rate_ <= 0) return kNever;
  if (known_total()) {
    if (n >= total_) return kNever;
    int64_t next;
    if (terminal_) {
      next = (n / refresh_rate_ + 1) * refresh_rate_;
    } else {
      // The next tenth: the smallest ceil(k * total / 10) above n.
      const __int128 k = static_cast<__int128>(n) * 10 / total_ + 1;
      next = static_cast<int64_t>((k * total_ + 9) / 10);
    }
    if (next >= total_) return draw_at_total_ ? total_ : kNever;
    return next;
  }
  if (terminal_) return n > kNever - refresh_rate_ ? kNever : (n / refresh_rate_ + 1) * refresh_rate_;
  if (n < 1) return 1;
  if (n < 10) return 10;
  if (n < 100) return 100;
  return n > kNever - 1000 ? kNever : (n / 1000 + 1) * 1000;
}

bool BarState::should_draw(double now) {
  const bool final = known_total() && n_ >= total_;
  if (terminal_ && !final && now - last_draw_ < min_interval_) {
    next_ = threshold_after(n_);
    return false;
  }
  mark_drawn(now);
  return true;
}

void BarState::mark_drawn(double now) {
  last_draw_ = now;
  drawn_n_ = n_;
  next_ = threshold_after(n_);
}

// --- terminal --------------------------------------------------------------------------------

double monotonic_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

bool is_terminal(const std::ostream* out) {
  const int fd = fd_of(out);
  return fd >= 0 && ::isatty(fd) == 1;
}

int terminal_columns(const std::ostream* out) {
  const int fd = fd_of(out);
  if (fd < 0) return 0;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int n = std::atoi(columns);
    if (n > 0) return n;
  }
  return 0;
}

// --- Bar -------------------------------------------------------------------------------------

Bar::Bar(std::ostream* out, bool terminal, int refresh_rate, double min_interval, int ncols, bool ascii, Clock clock)
    : out_(out),
      terminal_(terminal),
      ncols_(ncols),
      ascii_(ascii),
      clock_(clock ? std::move(clock) : Clock(&monotonic_seconds)),
      state_(refresh_rate, terminal, min_interval) {
  TORCH_CHECK(out != nullptr, "Bar: the output stream is null");
}

void Bar::open(std::string desc, int64_t total, int position, bool leave, bool visible, bool draw_at_total) {
  desc_ = std::move(desc);
  position_ = position;
  leave_ = leave;
  visible_ = visible;
  state_.reset(total, draw_at_total);
  active_ = state_.refresh_rate() > 0;
  start_ = active_ ? clock_() : 0.0;
}

std::string Bar::render() const {
  BarLine line;
  line.desc = desc_;
  line.n = state_.n();
  line.total = state_.total();
  line.elapsed = clock_() - start_;
  line.postfix = postfix_;
  line.ncols = ncols_ >= 0 ? ncols_ : terminal_columns(out_);
  line.ascii = ascii_;
  return format_bar_line(line);
}

void Bar::draw() {
  if (!active_) return;
  state_.mark_drawn(clock_());
  if (visible_) write(render());
}

void Bar::write(const std::string& line) {
  if (!terminal_) {
    *out_ << line << '\n' << std::flush;
    return;
  }
  // tqdm's in-place redraw: go down to this bar's row, rewrite it, blank what the previous
  // (longer) line left, come back up.
  std::string s(static_cast<size_t>(position_), '\n');
  s += '\r';
  s += line;
  const size_t width = display_width(line);
  if (width < last_width_) s.append(last_width_ - width, ' ');
  last_width_ = width;
  if (position_ > 0) s += fmt::format("\x1b[{}A", position_);
  *out_ << s << std::flush;
  on_screen_ = true;
}

void Bar::close() {
  if (!active_) return;
  const bool keep = !terminal_ || (leave_ && position_ == 0);
  if (visible_ && keep && !state_.drawn()) draw();
  if (terminal_ && on_screen_) {
    if (keep) {
      *out_ << '\n';
    } else {
      std::string s(static_cast<size_t>(position_), '\n');
      s += '\r';
      s.append(last_width_, ' ');
      s += '\r';
      if (position_ > 0) s += fmt::format("\x1b[{}A", position_);
      *out_ << s;
    }
    *out_ << std::flush;
  }
  on_screen_ = false;
  last_width_ = 0;
  active_ = false;
}

}  // namespace detail

// --- TQDMProgressBar -----------------------------------------------------------------------

namespace {
TQDMProgressBarOptions validated(TQDMProgressBarOptions options) {
  if (options.refresh_rate < 0) {
    throw MisconfigurationException(fmt::format(
        "TQDMProgressBar(refresh_rate={}): refresh_rate must be >= 0 (0 disables the bar).", options.refresh_rate));
  }
  if (options.process_position < 0) {
    throw MisconfigurationException(fmt::format("TQDMProgressBar(process_position={}): must be >= 0.",
                                                options.process_position));
  }
  if (options.out == nullptr) throw MisconfigurationException("TQDMProgressBar(out=nullptr): a stream is required.");
  if (options.ncols && *options.ncols < 0) {
    throw MisconfigurationException(fmt::format("TQDMProgressBar(ncols={}): must be >= 0.", *options.ncols));
  }
  return options;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

/// Batches in the eval dataloader `idx` (unknown when the trainer does not list it).
int64_t total_of(const std::vector<int64_t>& totals, int64_t idx) {
  return idx >= 0 && static_cast<size_t>(idx) < totals.size() ? totals[static_cast<size_t>(idx)]
                                                              : detail::kUnknownTotal;
}
}  // namespace

namespace {
TQDMProgressBarOptions options_with(int refresh_rate, std::ostream* out) {
  TQDMProgressBarOptions options;
  options.refresh_rate = refresh_rate;
  options.out = out;
  return options;
}
}  // namespace

TQDMProgressBar::TQDMProgressBar(int refresh_rate, std::ostream* out)
    : TQDMProgressBar(options_with(refresh_rate, out)) {}

TQDMProgressBar::TQDMProgressBar(TQDMProgressBarOptions options)
    : options_(validated(std::move(options))),
      terminal_(options_.terminal.value_or(detail::is_terminal(options_.out))),
      main_(options_.out, terminal_, options_.refresh_rate, options_.min_interval,
            options_.ncols.value_or(terminal_ ? -1 : 0), options_.ascii),
      eval_(options_.out, terminal_, options_.refresh_rate, options_.min_interval,
            options_.ncols.value_or(terminal_ ? -1 : 0), options_.ascii) {}

TQDMProgressBar::~TQDMProgressBar() = default;

OrderedMap<std::string> TQDMProgressBar::get_metrics(Trainer& trainer, LightningModule& module) {
  OrderedMap<std::string> items;
  // Lightning's get_standard_metrics: the logger's version ("_"-joined distinct versions for
  // several loggers); strings that are not a plain number show their last 4 characters.
  const auto& loggers = trainer.loggers();
  if (!loggers.empty()) {
    std::string version;
    if (loggers.size() == 1) {
      version = loggers.front()->version();
    } else {
      std::vector<std::string> seen;
      for (const auto& logger : loggers) {
        std::string v = logger->version();
        if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(std::move(v));
      }
      version = fmt::format("{}", fmt::join(seen, "_"));
    }
    if (!version.empty()) items["v_num"] = all_digits(version) || version.size() <= 4 ? version : version.substr(version.size() - 4);
  }
  for (const auto& [name, value] : trainer.progress_bar_metrics()) items[name] = detail::format_number(value);
  return items;
}

std::vector<std::pair<std::string, std::string>> TQDMProgressBar::postfix_items(Trainer& trainer,
                                                                                 LightningModule& module) {
  auto metrics = get_metrics(trainer, module);
  return {std::make_move_iterator(metrics.begin()), std::make_move_iterator(metrics.end())};
}

void TQDMProgressBar::draw_main(Trainer& trainer, LightningModule& module) {
  main_.set_postfix(postfix_items(trainer, module));
  main_.draw();
}

int64_t TQDMProgressBar::epoch_total(Trainer& trainer) const {
  constexpr int64_t kUnknown = detail::kUnknownTotal;
  const int64_t train = trainer.num_training_batches();
  if (train == kUnknown || train < 0) return kUnknown;
  // Validation batches that will run in this epoch (Lightning 1.9's main bar total).
  const auto every = trainer.check_val_every_n_epoch();
  const bool validates =
      trainer.enable_validation() && (!every || *every <= 0 || (trainer.current_epoch() + 1) % *every == 0);
  if (!validates) return train;
  int64_t val = 0;
  for (int64_t n : trainer.num_val_batches()) {
    if (n == kUnknown || n < 0) return kUnknown;
    val += n;
  }
  const int64_t check_batch = trainer.val_check_batch();
  const int64_t checks = check_batch > 0 && check_batch != kUnknown ? train / check_batch : 1;
  if (val > 0 && checks > (kUnknown - train) / val) return kUnknown;
  return train + val * checks;
}

void TQDMProgressBar::setup(Trainer& trainer, LightningModule& module, const std::string& stage) {
  if (!trainer.is_global_zero()) disable();
}

void TQDMProgressBar::on_sanity_check_start(Trainer& trainer, LightningModule& module) {
  eval_dataloader_idx_ = -1;
  val_batch_idx_ = 0;
}

void TQDMProgressBar::on_sanity_check_end(Trainer& trainer, LightningModule& module) {
  eval_.close();
  eval_dataloader_idx_ = -1;
}

void TQDMProgressBar::on_train_start(Trainer& trainer, LightningModule& module) {
  train_batch_idx_ = 0;
  val_processed_ = 0;
}

void TQDMProgressBar::on_train_epoch_start(Trainer& trainer, LightningModule& module) {
  train_batch_idx_ = 0;
  val_processed_ = 0;
  total_epoch_batches_ = epoch_total(trainer);
  if (!is_enabled()) return;
  // Not on a terminal, the epoch's last line is printed by on_train_epoch_end (with the
  // epoch's metrics), so the cadence stops short of the total.
  main_.open(fmt::format("Epoch {}", trainer.current_epoch()), total_epoch_batches_, 2 * options_.process_position,
             /*leave=*/true, /*visible=*/true, /*draw_at_total=*/terminal_);
}

void TQDMProgressBar::on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                         const Batch& batch, int64_t batch_idx) {
  // Hot path: a store, a compare and a return, unless a redraw is due.
  train_batch_idx_ = batch_idx + 1;
  if (!main_.advance_to(train_batch_idx_ + val_processed_)) return;
  draw_main(trainer, module);
}

void TQDMProgressBar::on_train_epoch_end(Trainer& trainer, LightningModule& module) {
  if (!main_.active()) return;
  draw_main(trainer, module);  // always the final state, with the epoch's metrics
  if (options_.leave) main_.close();
}

void TQDMProgressBar::on_train_end(Trainer& trainer, LightningModule& module) { main_.close(); }

void TQDMProgressBar::start_eval_dataloader(const std::string& description, const std::vector<int64_t>& totals,
                                            int64_t dataloader_idx, int position, bool leave, bool visible) {
  eval_.close();  // the previous dataloader's bar
  eval_dataloader_idx_ = dataloader_idx;
  if (!is_enabled()) return;
  eval_.open(fmt::format("{} DataLoader {}", description, dataloader_idx), total_of(totals, dataloader_idx),
             position, leave, visible);
}

void TQDMProgressBar::advance_eval(int64_t& counter, int64_t batch_idx) {
  counter = batch_idx + 1;
  if (eval_.advance_to(counter)) eval_.draw();
}

void TQDMProgressBar::end_eval() {
  eval_.close();
  eval_dataloader_idx_ = -1;
}

void TQDMProgressBar::on_validation_start(Trainer& trainer, LightningModule& module) {
  eval_dataloader_idx_ = -1;
  val_batch_idx_ = 0;
}

void TQDMProgressBar::on_validation_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                                int64_t batch_idx, int64_t dataloader_idx) {
  if (dataloader_idx == eval_dataloader_idx_) return;
  const int base = 2 * options_.process_position;
  if (trainer.sanity_checking()) {
    start_eval_dataloader("Sanity Checking", trainer.num_sanity_val_batches(), dataloader_idx, base,
                          /*leave=*/false, /*visible=*/true);
  } else if (trainer.state().fn == TrainerFn::Fitting) {
    // Below the epoch bar, cleared when done; in log files the epoch bar shows this progress.
    start_eval_dataloader("Validation", trainer.num_val_batches(), dataloader_idx, base + 1, /*leave=*/false,
                          /*visible=*/terminal_);
  } else {
    start_eval_dataloader("Validation", trainer.num_val_batches(), dataloader_idx, base, /*leave=*/true,
                          /*visible=*/true);
  }
}

void TQDMProgressBar::on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                              const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  advance_eval(val_batch_idx_, batch_idx);
  if (!trainer.sanity_checking() && trainer.state().fn == TrainerFn::Fitting) {
    ++val_processed_;
    // The epoch bar keeps its postfix here: metrics are read at its next regular redraw.
    if (main_.advance_to(train_batch_idx_ + val_processed_)) main_.draw();
  }
}

void TQDMProgressBar::on_validation_end(Trainer& trainer, LightningModule& module) {
  end_eval();
  // On a terminal, show the new validation metrics at once (in log files the epoch's last line does).
  if (terminal_ && main_.active() && !trainer.sanity_checking() && trainer.state().fn == TrainerFn::Fitting) {
    draw_main(trainer, module);
  }
}

void TQDMProgressBar::on_test_start(Trainer& trainer, LightningModule& module) {
  eval_dataloader_idx_ = -1;
  test_batch_idx_ = 0;
}

void TQDMProgressBar::on_test_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                          int64_t batch_idx, int64_t dataloader_idx) {
  if (dataloader_idx == eval_dataloader_idx_) return;
  start_eval_dataloader("Testing", trainer.num_test_batches(), dataloader_idx, 2 * options_.process_position,
                        /*leave=*/true, /*visible=*/true);
}

void TQDMProgressBar::on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                                        const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  advance_eval(test_batch_idx_, batch_idx);
}

void TQDMProgressBar::on_test_end(Trainer& trainer, LightningModule& module) { end_eval(); }

void TQDMProgressBar::on_predict_start(Trainer& trainer, LightningModule& module) {
  eval_dataloader_idx_ = -1;
  predict_batch_idx_ = 0;
}

void TQDMProgressBar::on_predict_batch_start(Trainer& trainer, LightningModule& module, const Batch& batch,
                                             int64_t batch_idx, int64_t dataloader_idx) {
  if (dataloader_idx == eval_dataloader_idx_) return;
  start_eval_dataloader("Predicting", trainer.num_predict_batches(), dataloader_idx, 2 * options_.process_position,
                        /*leave=*/true, /*visible=*/true);
}

void TQDMProgressBar::on_predict_batch_end(Trainer& trainer, LightningModule& module, const torch::IValue& outputs,
                                           const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  advance_eval(predict_batch_idx_, batch_idx);
}

void TQDMProgressBar::on_predict_end(Trainer& trainer, LightningModule& module) { end_eval(); }

void TQDMProgressBar::on_exception(Trainer& trainer, LightningModule& module, const std::exception_ptr& exception) {
  // Move below every bar still on screen so the error is not printed over them.
  int rows = 0;
  for (const detail::Bar* bar : {&main_, &eval_}) {
    if (bar->on_screen()) rows = std::max(rows, bar->position() + 1);
  }
  if (rows > 0) *options_.out << std::string(static_cast<size_t>(rows), '\n') << std::flush;
  main_.abandon();
  eval_.abandon();
}

}  // namespace lightning
