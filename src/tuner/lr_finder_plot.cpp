// LRFinder::plot: Lightning draws the sweep with matplotlib; here it is an SVG file written by
// hand (no plotting library), which any browser opens. The layout follows matplotlib's default
// figure: 640x480, the loss as a blue line, log-scaled learning rates in "exponential" mode,
// the suggestion as a red point.
#include "lightning/tuner/lr_finder.h"

#include "lightning/utilities/errors.h"
#include "utilities/fs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace lightning::tuner {

namespace {

constexpr double kWidth = 640, kHeight = 480;
constexpr double kLeft = 80, kRight = 620, kTop = 30, kBottom = 420;  // the axes' box
constexpr const char* kLineColor = "#1f77b4";                          // matplotlib's first colour

/// 1, 2 or 5 times a power of ten, about (hi - lo) / 5: matplotlib-like round ticks.
std::vector<double> linear_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double pixel_lo, pixel_hi;
  double to_pixel(double v) const {
    const double x = log ? std::log10(v) : v;
    return pixel_lo + (x - lo) / (hi - lo) * (pixel_hi - pixel_lo);
  }
};

/// The axis range of `values` (log10 of them for a log axis), padded by 5% as matplotlib does.
Axis make_axis(const std::vector<double>& values, bool log, double pixel_lo, double pixel_hi) {
  Axis axis{0, 1, log, pixel_lo, pixel_hi};
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    const double x = log ? std::log10(v) : v;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (!std::isfinite(lo)) return axis;
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double pad = (hi - lo) * 0.05;
  axis.lo = lo - pad;
  axis.hi = hi + pad;
  return axis;
}

std::string number(double v) { return fmt::format("{:.4g}", v); }

/// "10<sup>k</sup>" as SVG text (matplotlib's log tick labels).
std::string power_of_ten_label(double x, double y, int exponent) {
  return fmt::format(
      R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="12">10<tspan dy="-6" font-size="9">{}</tspan></text>)",
      x, y, exponent);
}

}  // namespace

std::string LRFinder::to_svg(bool suggest) {
  const bool log_x = mode_ == "exponential";
  // The points that can be drawn: a finite loss (and a positive learning rate on a log axis).
  const size_t n = std::min(lrs.size(), losses.size());
  auto drawable = [&](size_t i) { return std::isfinite(losses[i]) && std::isfinite(lrs[i]) && (!log_x || lrs[i] > 0); };
  std::vector<double> xs, ys;
  for (size_t i = 0; i < n; ++i)
    if (drawable(i)) {
      xs.push_back(lrs[i]);
      ys.push_back(losses[i]);
    }
  const Axis x = make_axis(xs, log_x, kLeft, kRight);
  const Axis y = make_axis(ys, false, kBottom, kTop);

  std::string svg = fmt::format(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="DejaVu Sans, Arial, sans-serif">
<title>Learning rate finder</title>
<rect width="100%" height="100%" fill="white"/>
)",
      kWidth, kHeight);
  // Ticks, labels and grid lines.
  std::string xticks, yticks;
  if (log_x) {
    for (int k = static_cast<int>(std::ceil(x.lo)); k <= static_cast<int>(std::floor(x.hi)); ++k) {
      const double px = x.to_pixel(std::pow(10.0, k));
      xticks += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#e0e0e0"/>)"
                            R"(<line x1="{0:.1f}" y1="{2}" x2="{0:.1f}" y2="{3}" stroke="black"/>)",
                            px, kTop, kBottom, kBottom + 5);
      xticks += power_of_ten_label(px, kBottom + 22, k) + "\n";
    }
  } else {
    for (double t : linear_ticks(x.lo, x.hi)) {
      const double px = x.to_pixel(t);
      xticks += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#e0e0e0"/>)"
                            R"(<line x1="{0:.1f}" y1="{2}" x2="{0:.1f}" y2="{3}" stroke="black"/>)"
                            R"(<text x="{0:.1f}" y="{4}" text-anchor="middle" font-size="12">{5}</text>)"
                            "\n",
                            px, kTop, kBottom, kBottom + 5, kBottom + 20, number(t));
    }
  }
  for (double t : linear_ticks(y.lo, y.hi)) {
    const double py = y.to_pixel(t);
    yticks += fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" stroke="#e0e0e0"/>)"
                          R"(<line x1="{3}" y1="{1:.1f}" x2="{0}" y2="{1:.1f}" stroke="black"/>)"
                          R"(<text x="{4}" y="{5:.1f}" text-anchor="end" font-size="12">{6}</text>)"
                          "\n",
                          kLeft, py, kRight, kLeft - 5, kLeft - 8, py + 4, number(t));
  }
  svg += "<g id=\"grid-and-ticks\">\n" + xticks + yticks + "</g>\n";
  // The loss curve: one polyline per run of drawable points.
  svg += "<g id=\"loss\" fill=\"none\" stroke=\"" + std::string(kLineColor) + "\" stroke-width=\"1.5\">\n";
  std::string points;
  auto flush = [&] {
    if (!points.empty()) svg += "<polyline points=\"" + points + "\"/>\n";
    points.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    if (!drawable(i)) {
      flush();
      continue;
    }
    points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", x.to_pixel(lrs[i]), y.to_pixel(losses[i]));
  }
  flush();
  svg += "</g>\n";
  if (xs.empty())
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" font-size="14">no finite loss to plot</text>)" "\n",
                       (kLeft + kRight) / 2, (kTop + kBottom) / 2);
  // The axes' box and labels.
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>)" "\n", kLeft, kTop,
                     kRight - kLeft, kBottom - kTop);
  svg += fmt::format(R"(<text id="xlabel" x="{}" y="{}" text-anchor="middle" font-size="14">Learning rate</text>)" "\n",
                     (kLeft + kRight) / 2, kHeight - 20);
  svg += fmt::format(
      R"svg(<text id="ylabel" x="{0}" y="{1}" text-anchor="middle" font-size="14" transform="rotate(-90 {0} {1})">Loss</text>)svg"
      "\n",
      24, (kTop + kBottom) / 2);
  if (suggest) {
    suggestion();
    if (optimal_idx_ && drawable(static_cast<size_t>(*optimal_idx_))) {
      const auto i = static_cast<size_t>(*optimal_idx_);
      svg += fmt::format(
          R"(<circle id="suggestion" cx="{:.2f}" cy="{:.2f}" r="5" fill="red"><title>suggested learning rate {}</title></circle>)"
          "\n"
          R"(<text id="suggestion-label" x="{}" y="{}" text-anchor="end" font-size="12" fill="red">suggested lr = {}</text>)"
          "\n",
          x.to_pixel(lrs[i]), y.to_pixel(losses[i]), number(lrs[i]), kRight, kTop - 10, number(lrs[i]));
    }
  }
  svg += "</svg>\n";
  return svg;
}

std::string LRFinder::plot(bool suggest, std::optional<std::string> path) {
  const std::string target = path ? *path : (log_dir.empty() ? std::string(".") : log_dir) + "/lr_find.svg";
  const std::string folder = lightning::detail::parent_dir(target);
  if (!folder.empty()) lightning::detail::make_dirs(folder);
  if (const int err = lightning::detail::write_file_atomically(target, to_svg(suggest)))
    throw MisconfigurationException(fmt::format(
        "LRFinder.plot: cannot write '{}': {}; accepted: a path in a folder this process may write", target,
        std::strerror(err)));
  return target;
}

}  // namespace lightning::tuner
