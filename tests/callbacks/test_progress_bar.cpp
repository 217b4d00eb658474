// TQDMProgressBar: line format, redraw cadence (terminal and log files), refresh_rate, output.
#include "lightning/callbacks/progress_bar.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace L = lightning;
using L::detail::Bar;
using L::detail::BarLine;
using L::detail::BarState;
using L::detail::kUnknownTotal;

namespace {

double g_now = 0;
double fake_clock() { return g_now; }

/// Counts at which a BarState draws while counting 1..last, with the clock at n * seconds_per_batch.
std::vector<int64_t> draws(BarState state, int64_t total, int64_t last, double seconds_per_batch = 10,
                           bool draw_at_total = true) {
  state.reset(total, draw_at_total);
  std::vector<int64_t> out;
  for (int64_t n = 1; n <= last; ++n) {
    if (state.update(n) && state.should_draw(static_cast<double>(n) * seconds_per_batch)) out.push_back(n);
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(ProgressBarFormat, Time) {
  using L::detail::format_time;
  EXPECT_EQ(format_time(0), "00:00");
  EXPECT_EQ(format_time(0.99), "00:00");
  EXPECT_EQ(format_time(65.9), "01:05");
  EXPECT_EQ(format_time(3599), "59:59");
  EXPECT_EQ(format_time(3725), "1:02:05");
  EXPECT_EQ(format_time(90000), "25:00:00");
  EXPECT_EQ(format_time(-3), "00:00");
}

TEST(ProgressBarFormat, Numbers) {
  using L::detail::format_number;
  EXPECT_EQ(format_number(0.123456), "0.123");
  EXPECT_EQ(format_number(0.1), "0.100");
  EXPECT_EQ(format_number(1.0), "1.000");
  EXPECT_EQ(format_number(2.0), "2.000");
  EXPECT_EQ(format_number(12.3456), "12.30");
  EXPECT_EQ(format_number(100.0), "100.0");
  EXPECT_EQ(format_number(1234.5), "1234.5");
  EXPECT_EQ(format_number(123456.0), "1.23e+5");
  EXPECT_EQ(format_number(1.5e-05), "1.5e-5");
  EXPECT_EQ(format_number(0.000123), "0.000123");
  EXPECT_EQ(format_number(-0.5), "-0.50");
  EXPECT_EQ(format_number(std::nan("")), "nan");
}

TEST(ProgressBarFormat, Rate) {
  using L::detail::format_rate;
  EXPECT_EQ(format_rate(30), "30.00it/s");
  EXPECT_EQ(format_rate(9.5238), " 9.52it/s");
  EXPECT_EQ(format_rate(1234.5), "1234.50it/s");
  EXPECT_EQ(format_rate(0), "?it/s");
}

TEST(ProgressBarFormat, Line) {
  BarLine line;
  line.desc = "Epoch 0";
  line.n = 45;
  line.total = 100;
  line.elapsed = 1.5;
  line.postfix = {{"v_num", "0"}, {"train_loss", "0.123"}};
  EXPECT_EQ(L::detail::format_bar_line(line),
            "Epoch 0:  45%|████▌     | 45/100 [00:01<00:01, 30.00it/s, v_num=0, train_loss=0.123]");

  line.ascii = true;
  EXPECT_EQ(L::detail::format_bar_line(line),
            "Epoch 0:  45%|####5     | 45/100 [00:01<00:01, 30.00it/s, v_num=0, train_loss=0.123]");

  line.ascii = false;
  line.total = kUnknownTotal;
  EXPECT_EQ(L::detail::format_bar_line(line), "Epoch 0: 45it [00:01, 30.00it/s, v_num=0, train_loss=0.123]");

  BarLine start;
  start.desc = "Epoch 3";
  start.total = 100;
  EXPECT_EQ(L::detail::format_bar_line(start), "Epoch 3:   0%|          | 0/100 [00:00<?, ?it/s]");

  BarLine done;
  done.desc = "Validation DataLoader 0";
  done.n = 20;
  done.total = 20;
  done.elapsed = 2.1;
  EXPECT_EQ(L::detail::format_bar_line(done),
            "Validation DataLoader 0: 100%|██████████| 20/20 [00:02<00:00,  9.52it/s]");

  // Resumed mid-epoch: the rate counts only the batches timed.
  BarLine resumed = done;
  resumed.n = 15;
  resumed.initial = 10;
  resumed.elapsed = 2;
  EXPECT_NE(L::detail::format_bar_line(resumed).find(" 2.50it/s"), std::string::npos);
}

TEST(ProgressBarFormat, LineFitsNcols) {
  BarLine line;
  line.desc = "Epoch 1";
  line.n = 50;
  line.total = 100;
  line.elapsed = 5;
  line.ncols = 80;
  const std::string text = L::detail::format_bar_line(line);
  // Every character is one column; the bar's blocks are 3-byte UTF-8.
  const auto columns = std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; });
  EXPECT_EQ(columns, 80);
  EXPECT_EQ(text.rfind("Epoch 1:  50%|", 0), 0u);

  line.postfix = {{"a_very_long_metric_name", "0.123"}, {"another_long_metric_name", "0.456"}};
  line.ncols = 60;  // too narrow for everything: cut at the width
  const std::string cut = L::detail::format_bar_line(line);
  EXPECT_EQ(std::count_if(cut.begin(), cut.end(), [](char c) { return (c & 0xC0) != 0x80; }), 60);
}

TEST(ProgressBarCadence, LogFileEveryTenthOfTheEpoch) {
  BarState log(/*refresh_rate=*/1, /*terminal=*/false);
  EXPECT_EQ(draws(log, 100, 100), (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}));
  EXPECT_EQ(draws(log, 25, 25), (std::vector<int64_t>{3, 5, 8, 10, 13, 15, 18, 20, 23, 25}));
  EXPECT_EQ(draws(log, 7, 7), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  // The epoch bar leaves its last line to on_train_epoch_end.
  EXPECT_EQ(draws(log, 100, 100, 10, /*draw_at_total=*/false),
            (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90}));
  // refresh_rate does not add lines to log files.
  EXPECT_EQ(draws(BarState(50, false), 100, 100).size(), 10u);
  // No time throttle in log files: batches 1 ms apart still print at each tenth.
  EXPECT_EQ(draws(log, 100, 100, 0.001).size(), 10u);
}

TEST(ProgressBarCadence, LogFileUnknownTotal) {
  BarState log(1, false);
  EXPECT_EQ(draws(log, kUnknownTotal, 5000), (std::vector<int64_t>{1, 10, 100, 1000, 2000, 3000, 4000, 5000}));
}

TEST(ProgressBarCadence, TerminalRefreshRate) {
  EXPECT_EQ(draws(BarState(5, true), 12, 12), (std::vector<int64_t>{5, 10, 12}));
  EXPECT_EQ(draws(BarState(1, true), 4, 4), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(draws(BarState(3, true), kUnknownTotal, 10), (std::vector<int64_t>{3, 6, 9}));
}

TEST(ProgressBarCadence, TerminalTimeThrottle) {
  // Batches every 0.25 s, at most one redraw per second; the last batch always draws.
  BarState fast(1, true, /*min_interval=*/1.0);
  EXPECT_EQ(draws(fast, 20, 20, 0.25), (std::vector<int64_t>{1, 5, 9, 13, 17, 20}));
}

TEST(ProgressBarCadence, HotPathIsOneComparison) {
  BarState state(1000, true);
  state.reset(1'000'000);
  EXPECT_EQ(state.next_draw(), 1000);
  for (int64_t n = 1; n < 1000; ++n) ASSERT_FALSE(state.update(n));
  EXPECT_TRUE(state.update(1000));
}

TEST(ProgressBarCadence, RefreshRateZeroNeverDraws) {
  BarState off(0, true);
  EXPECT_TRUE(draws(off, 10, 10).empty());
  EXPECT_TRUE(draws(BarState(0, false), 10, 10).empty());
  EXPECT_TRUE(draws(BarState(0, false), kUnknownTotal, 100).empty());
}

TEST(ProgressBarOutput, LogFileLines) {
  std::ostringstream os;
  g_now = 0;
  Bar bar(&os, /*terminal=*/false, /*refresh_rate=*/1, 0.1, /*ncols=*/0, false, fake_clock);
  bar.open("Epoch 0", 100);
  for (int64_t n = 1; n <= 100; ++n) {
    g_now = 0.01 * static_cast<double>(n);
    if (bar.advance_to(n)) {
      bar.set_postfix({{"v_num", "3"}, {"loss", "0.500"}});
      bar.draw();
    }
  }
  bar.close();
  const auto out = lines(os.str());
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(os.str().find('\r'), std::string::npos);
  EXPECT_EQ(out[0], "Epoch 0:  10%|█         | 10/100 [00:00<00:00, 100.00it/s, v_num=3, loss=0.500]");
  EXPECT_EQ(out[9], "Epoch 0: 100%|██████████| 100/100 [00:01<00:00, 100.00it/s, v_num=3, loss=0.500]");
}

TEST(ProgressBarOutput, FinalStateAlwaysDrawn) {
  std::ostringstream os;
  g_now = 0;
  Bar bar(&os, false, 1, 0.1, 0, false, fake_clock);
  bar.open("Predicting DataLoader 0", kUnknownTotal);
  for (int64_t n = 1; n <= 5; ++n)
    if (bar.advance_to(n)) bar.draw();
  g_now = 1;
  bar.close();
  const auto out = lines(os.str());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "Predicting DataLoader 0: 1it [00:00, ?it/s]");
  EXPECT_EQ(out[1], "Predicting DataLoader 0: 5it [00:01,  5.00it/s]");
}

TEST(ProgressBarOutput, RefreshRateZeroWritesNothing) {
  std::ostringstream os;
  for (bool terminal : {false, true}) {
    Bar bar(&os, terminal, /*refresh_rate=*/0, 0.1, 0, false, fake_clock);
    bar.open("Epoch 0", 10);
    for (int64_t n = 1; n <= 10; ++n)
      if (bar.advance_to(n)) bar.draw();
    bar.draw();
    bar.close();
  }
  EXPECT_EQ(os.str(), "");

  // The callback: disabled by refresh_rate 0, or by disable().
  L::TQDMProgressBar off(0, &os);
  EXPECT_FALSE(off.is_enabled());
  EXPECT_TRUE(off.is_disabled());
}

TEST(ProgressBarOutput, InvisibleBarCountsButWritesNothing) {
  std::ostringstream os;
  Bar bar(&os, false, 1, 0.1, 0, false, fake_clock);
  bar.open("Validation DataLoader 0", 10, 1, false, /*visible=*/false);
  for (int64_t n = 1; n <= 10; ++n)
    if (bar.advance_to(n)) bar.draw();
  bar.close();
  EXPECT_EQ(os.str(), "");
}

TEST(ProgressBarOutput, TerminalRedrawsInPlace) {
  std::ostringstream os;
  g_now = 0;
  Bar bar(&os, /*terminal=*/true, 1, /*min_interval=*/1.0, 0, false, fake_clock);
  bar.open("Epoch 0", 20, 0, /*leave=*/true);
  int drawn = 0;
  for (int64_t n = 1; n <= 20; ++n) {
    g_now = 0.25 * static_cast<double>(n);
    if (bar.advance_to(n)) {
      bar.draw();
      ++drawn;
    }
  }
  EXPECT_EQ(drawn, 6);
  const std::string text = os.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 6);
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line, rewritten
  EXPECT_EQ(text.rfind("\rEpoch 0: 100%|██████████| 20/20 ["), text.rfind('\r'));
  bar.close();  // leave: the line stays, the cursor moves below it
  const std::string closed = os.str();
  EXPECT_EQ(closed.back(), '\n');
  EXPECT_EQ(std::count(closed.begin(), closed.end(), '\r'), 6);  // final state was already drawn
}

TEST(ProgressBarOutput, TerminalSecondRowIsClearedWhenDone) {
  std::ostringstream os;
  g_now = 0;
  Bar bar(&os, true, 1, 0.0, 0, false, fake_clock);
  bar.open("Validation DataLoader 0", 2, /*position=*/1, /*leave=*/false);
  for (int64_t n = 1; n <= 2; ++n)
    if (bar.advance_to(n)) bar.draw();
  EXPECT_EQ(os.str().rfind("\n\rValidation DataLoader 0: 100%", 0), std::string::npos);
  EXPECT_NE(os.str().find("\n\rValidation DataLoader 0:  50%"), std::string::npos);
  EXPECT_NE(os.str().find("\x1b[1A"), std::string::npos);
  const size_t before = os.str().size();
  bar.close();
  const std::string tail = os.str().substr(before);
  // Down one row, blank it, back up: nothing of the finished bar remains.
  EXPECT_EQ(tail.front(), '\n');
  EXPECT_EQ(tail.substr(tail.size() - 5), "\r\x1b[1A");
  EXPECT_EQ(tail.find_first_not_of(" \r\n\x1b[1A"), std::string::npos);
}

TEST(ProgressBarOutput, TerminalShorterLineIsPadded) {
  std::ostringstream os;
  g_now = 0;
  Bar bar(&os, true, 1, 0.0, 0, false, fake_clock);
  bar.open("Epoch 0", kUnknownTotal);
  bar.set_postfix({{"loss", "0.12345"}});
  ASSERT_TRUE(bar.advance_to(1));
  bar.draw();
  const std::string first = os.str();
  bar.set_postfix({});
  ASSERT_TRUE(bar.advance_to(2));
  bar.draw();
  const std::string second = os.str().substr(first.size());
  // Same width on screen: leftovers of the longer line are overwritten with blanks.
  EXPECT_EQ(second.size(), first.size());
  EXPECT_EQ(second.back(), ' ');
}

TEST(TQDMProgressBar, OptionsAndSwitches) {
  std::ostringstream os;
  L::TQDMProgressBar bar(5, &os);
  EXPECT_EQ(bar.refresh_rate(), 5);
  EXPECT_EQ(bar.process_position(), 0);
  EXPECT_TRUE(bar.is_enabled());
  EXPECT_FALSE(bar.terminal());  // a string stream is never a terminal
  bar.disable();
  EXPECT_FALSE(bar.is_enabled());
  bar.enable();
  EXPECT_TRUE(bar.is_enabled());
  EXPECT_EQ(bar.state_key(), "TQDMProgressBar");

  L::TQDMProgressBar forced(
      {.refresh_rate = 2, .process_position = 1, .leave = true, .out = &os, .terminal = true, .ncols = 80});
  EXPECT_TRUE(forced.terminal());
  EXPECT_EQ(forced.process_position(), 1);

  EXPECT_THROW(L::TQDMProgressBar(-1, &os), L::MisconfigurationException);
  EXPECT_THROW(L::TQDMProgressBar(1, nullptr), L::MisconfigurationException);
  EXPECT_EQ(os.str(), "");  // constructing draws nothing
}
