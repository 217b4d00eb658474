#include "lightning_plot/html.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace lightning::plot {
namespace {

// Chart geometry, in SVG user units (the SVG scales to its grid cell).
constexpr double kWidth = 560, kLeft = 62, kRight = 16, kTop = 32, kPlotHeight = 210, kBottom = 38;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kLegendRow = 18, kLegendCharWidth = 6.4;
/// Curves with at most this many points also get a dot (with a tooltip) per point.
constexpr size_t kMaxDots = 60;

constexpr std::array<const char*, 10> kColors = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                 "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
constexpr std::array<const char*, 4> kDashes = {"", "7 4", "2 3", "9 3 2 3"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.5g}", v);
}

/// 1, 2 or 5 times a power of ten, near span / target.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) return "0";
  if (std::abs(v) >= 1e6 || std::abs(v) < 1e-4) return fmt::format("{:.3g}", v);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

/// Prefix and suffix ranks: train before unprefixed before val before test; _step before _epoch.
struct Role {
  int prefix = 1, suffix = 1;
  std::string key;
};

Role role_of(const std::string& metric) {
  Role role;
  std::string name = metric;
  for (const auto& [suffix, rank] : {std::pair<std::string, int>{"_step", 0}, {"_epoch", 2}})
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name.resize(name.size() - suffix.size());
      role.suffix = rank;
      break;
    }
  static const std::pair<const char*, int> prefixes[] = {{"train", 0}, {"validation", 2}, {"valid", 2},
                                                         {"val", 2},   {"test", 3}};
  for (const auto& [word, rank] : prefixes) {
    const std::string w = word;
    if (name.size() > w.size() + 1 && name.compare(0, w.size(), w) == 0 &&
        (name[w.size()] == '_' || name[w.size()] == '/')) {
      name = name.substr(w.size() + 1);
      role.prefix = rank;
      break;
    }
  }
  role.key = name;
  return role;
}

struct Curve {
  size_t run;
  std::string metric;
  const Metric* data;
  std::string color, dash;
};

struct Chart {
  std::string key;
  std::vector<Curve> curves;
};

/// Charts by key; curves by run, then train/val/test and step/epoch. Colors tell runs apart
/// when there are several (dashes then tell the metrics apart), else the metrics.
std::vector<Chart> build_charts(const std::vector<Run>& runs) {
  std::map<std::string, Chart> charts;
  for (size_t r = 0; r < runs.size(); ++r)
    for (const auto& [name, metric] : runs[r].metrics) {
      const std::string key = role_of(name).key;
      charts[key].key = key;
      charts[key].curves.push_back({r, name, &metric, "", ""});
    }
  std::vector<Chart> out;
  for (auto& [_, chart] : charts) {
    std::sort(chart.curves.begin(), chart.curves.end(), [&](const Curve& a, const Curve& b) {
      const Role ra = role_of(a.metric), rb = role_of(b.metric);
      return std::tie(a.run, ra.prefix, ra.suffix, a.metric) < std::tie(b.run, rb.prefix, rb.suffix, b.metric);
    });
    std::vector<std::string> metrics;  // distinct names, in curve order of the first run having each
    for (const auto& c : chart.curves)
      if (std::find(metrics.begin(), metrics.end(), c.metric) == metrics.end()) metrics.push_back(c.metric);
    for (auto& c : chart.curves) {
      const size_t slot = static_cast<size_t>(std::find(metrics.begin(), metrics.end(), c.metric) - metrics.begin());
      if (runs.size() > 1) {
        c.color = kColors[c.run % kColors.size()];
        c.dash = kDashes[slot % kDashes.size()];
      } else {
        c.color = kColors[slot % kColors.size()];
      }
    }
    out.push_back(std::move(chart));
  }
  return out;
}

struct Scale {
  double lo, hi, pixel_lo, pixel_hi;
  double operator()(double v) const { return pixel_lo + (v - lo) / (hi - lo) * (pixel_hi - pixel_lo); }
};

int64_t last_step(const Run& run) {
  int64_t last = run.epoch.empty() ? 0 : run.epoch.back().step;
  for (const auto& [_, metric] : run.metrics)
    if (!metric.points.empty()) last = std::max(last, metric.points.back().step);
  return last;
}

/// Epoch boundaries of a run: the last step of each epoch that a later one follows, with the
/// number of the epoch starting there. A new epoch seen only at the run's last step is no
/// boundary: it is the `epoch` a test after fit logs (the trainer's epoch count by then).
std::vector<std::pair<int64_t, int64_t>> epoch_boundaries(const Run& run) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const auto& epoch = run.epoch;
  size_t n = epoch.size();
  if (n >= 2 && epoch[n - 1].step == last_step(run) && epoch[n - 1].value > epoch[n - 2].value) --n;
  for (size_t i = 0; i + 1 < n; ++i)
    if (epoch[i + 1].value > epoch[i].value) out.emplace_back(epoch[i].step, static_cast<int64_t>(epoch[i + 1].value));
  return out;
}

/// The path of a curve, breaking at non-finite values. Points falling in one pixel column keep
/// only their first, lowest, highest and last, so that long runs stay small and look the same.
std::string path_data(const Series& points, const Scale& x, const Scale& y) {
  std::string d;
  bool pen_down = false;
  std::vector<size_t> bucket;  // indices of the current pixel column
  long column = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    size_t lo = bucket.front(), hi = bucket.front();
    for (size_t i : bucket) {
      if (points[i].value < points[lo].value) lo = i;
      if (points[i].value > points[hi].value) hi = i;
    }
    std::set<size_t> keep = {bucket.front(), lo, hi, bucket.back()};
    for (size_t i : keep) {
      d += fmt::format("{}{:.1f},{:.1f}", pen_down ? "L" : "M", x(static_cast<double>(points[i].step)),
                       y(points[i].value));
      pen_down = true;
    }
    bucket.clear();
  };
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i].value)) {
      flush();
      pen_down = false;
      continue;
    }
    const long c = std::lround(x(static_cast<double>(points[i].step)));
    if (!bucket.empty() && c != column) flush();
    column = c;
    bucket.push_back(i);
  }
  flush();
  return d;
}

std::string render_chart(const Chart& chart, const std::vector<Run>& runs) {
  // Domains: x over every point's step, y over the finite values, both padded when flat.
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& c : chart.curves)
    for (const auto& p : c.data->points) {
      x_lo = std::min(x_lo, static_cast<double>(p.step));
      x_hi = std::max(x_hi, static_cast<double>(p.step));
      if (std::isfinite(p.value)) y_lo = std::min(y_lo, p.value), y_hi = std::max(y_hi, p.value);
    }
  if (!(x_hi > x_lo)) x_hi = x_lo + 1;
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  if (!(y_hi > y_lo)) {
    const double pad = y_lo != 0 ? std::abs(y_lo) * 0.05 : 1;
    y_lo -= pad, y_hi += pad;
  }
  const double y_step = nice_step(y_hi - y_lo, 5);
  y_lo = std::floor(y_lo / y_step) * y_step;
  y_hi = std::ceil(y_hi / y_step) * y_step;
  const double x_step = std::max(1.0, nice_step(x_hi - x_lo, 6));
  const Scale x{x_lo, x_hi, kLeft, kLeft + kPlotWidth};
  const Scale y{y_lo, y_hi, kTop + kPlotHeight, kTop};

  // Legend entries, wrapped into rows under the plot.
  struct Entry {
    std::string text;
    double x, y;
  };
  std::vector<Entry> legend;
  double lx = kLeft, ly = kTop + kPlotHeight + kBottom + 6;
  for (const auto& c : chart.curves) {
    std::string text = runs.size() > 1 ? runs[c.run].label + " · " + c.metric : c.metric;
    if (!c.data->points.empty()) text += " = " + number(c.data->points.back().value);
    const double width = 30 + kLegendCharWidth * static_cast<double>(text.size()) + 14;
    if (lx + width > kWidth - kRight && lx > kLeft) lx = kLeft, ly += kLegendRow;
    legend.push_back({text, lx, ly});
    lx += width;
  }
  const double height = ly + kLegendRow - 4;

  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1:.0f}\" width=\"{0}\" "
      "height=\"{1:.0f}\" data-metric=\"{2}\" data-curves=\"{3}\" role=\"img\" aria-label=\"{2}\">\n",
      kWidth, height, escape(chart.key), chart.curves.size());
  svg += fmt::format("<text class=\"title\" x=\"{}\" y=\"20\">{}</text>\n", kLeft, escape(chart.key));
  // Grid and axes.
  svg += "<g class=\"axis\">\n";
  const int y_ticks = static_cast<int>(std::lround((y_hi - y_lo) / y_step));
  for (int i = 0; i <= y_ticks; ++i) {
    const double v = y_lo + i * y_step;
    svg += fmt::format(
        "<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\"/><text x=\"{3}\" y=\"{4:.1f}\" "
        "text-anchor=\"end\">{5}</text>\n",
        kLeft, kLeft + kPlotWidth, y(v), kLeft - 6, y(v) + 4, tick_label(v, y_step));
  }
  for (double v = std::ceil(x_lo / x_step) * x_step; v <= x_hi + 1e-9; v += x_step)
    svg += fmt::format(
        "<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\"/><text x=\"{0:.1f}\" y=\"{3}\" "
        "text-anchor=\"middle\">{4}</text>\n",
        x(v), kTop, kTop + kPlotHeight, kTop + kPlotHeight + 16, tick_label(v, x_step));
  svg += fmt::format("<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n", kLeft, kTop, kPlotWidth,
                     kPlotHeight);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">step</text>\n</g>\n", kLeft + kPlotWidth,
                     kTop + kPlotHeight + 32);

  // Epoch markers of every run drawn here (one line per step, labels where there is room).
  std::set<size_t> chart_runs;
  for (const auto& c : chart.curves) chart_runs.insert(c.run);
  std::map<int64_t, int64_t> boundaries;
  for (size_t r : chart_runs)
    for (const auto& [step, epoch] : epoch_boundaries(runs[r])) boundaries.emplace(step, epoch);
  if (!boundaries.empty()) {
    svg += "<g class=\"epochs\">\n";
    double last_label = -INFINITY;
    for (const auto& [step, epoch] : boundaries) {
      const double px = x(static_cast<double>(step));
      svg += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\"><title>epoch {3} starts after step {4}</title></line>\n",
                         px, kTop, kTop + kPlotHeight, epoch, step);
      if (px - last_label >= 22) {
        svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">e{}</text>\n", px + 3, kTop + 11, epoch);
        last_label = px;
      }
    }
    svg += "</g>\n";
  }

  // Curves.
  for (const auto& c : chart.curves) {
    const auto& points = c.data->points;
    const size_t finite = static_cast<size_t>(
        std::count_if(points.begin(), points.end(), [](const Point& p) { return std::isfinite(p.value); }));
    svg += fmt::format(
        "<g class=\"curve\" data-run=\"{}\" data-series=\"{}\" data-points=\"{}\" stroke=\"{}\" fill=\"{}\">"
        "<title>{}{} ({} points from {})</title>\n",
        escape(runs[c.run].label), escape(c.metric), finite, c.color, c.color,
        runs.size() > 1 ? escape(runs[c.run].label) + " · " : "", escape(c.metric), finite, escape(c.data->source));
    if (finite >= 2)
      svg += fmt::format("<path d=\"{}\"{}/>\n", path_data(points, x, y),
                         c.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", c.dash));
    if (finite <= kMaxDots)
      for (const auto& p : points)
        if (std::isfinite(p.value))
          svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\"><title>step {}: {}</title></circle>\n",
                             x(static_cast<double>(p.step)), y(p.value), p.step, number(p.value));
    svg += "</g>\n";
  }

  svg += "<g class=\"legend\">\n";
  for (size_t i = 0; i < legend.size(); ++i) {
    const auto& c = chart.curves[i];
    const auto& e = legend[i];
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"{4}/>"
        "<text x=\"{5:.1f}\" y=\"{6:.1f}\">{7}</text>\n",
        e.x, e.x + 24, e.y - 4, c.color, c.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", c.dash),
        e.x + 30, e.y, escape(e.text));
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

std::string human_size(int64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string local_time(int64_t seconds) {
  const std::time_t t = seconds;
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string render_runs(const std::vector<Run>& runs) {
  std::string html =
      "<table class=\"runs\"><thead><tr><th>run</th><th>folder</th><th>metrics read from</th><th>last "
      "step</th><th>epochs</th></tr></thead><tbody>\n";
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto& run = runs[r];
    // Which file each metric came from; event files that added nothing are named too.
    std::map<std::string, std::vector<std::string>> by_source;
    for (const auto& [name, metric] : run.metrics) by_source[metric.source].push_back(name);
    std::string sources;
    auto line = [&](const std::string& source, const std::string& what) {
      sources += fmt::format("<div><code>{}</code>: {}</div>", escape(source), what);
    };
    if (by_source.count("metrics.csv")) line("metrics.csv", escape(fmt::format("{}", fmt::join(by_source["metrics.csv"], ", "))));
    for (const auto& [source, names] : by_source)
      if (source != "metrics.csv") line(source, escape(fmt::format("{}", fmt::join(names, ", "))));
    const size_t event_files = run.sources.size() - (run.sources.front() == "metrics.csv" ? 1 : 0);
    if (event_files > 0 && by_source.size() == 1 && by_source.count("metrics.csv"))
      line(event_files == 1 ? run.sources.back() : fmt::format("events.out.tfevents.* ({} files)", event_files),
           "not used (metrics.csv has every metric they hold)");
    const std::string epochs =
        run.epoch.empty() ? std::string("—") : fmt::format("{}", epoch_boundaries(run).size() + 1);
    html += fmt::format(
        "<tr><td>{}{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        runs.size() > 1 ? fmt::format("<span class=\"swatch\" style=\"background:{}\"></span>", kColors[r % kColors.size()])
                        : "",
        escape(run.label), escape(run.dir), sources, last_step(run), epochs);
  }
  html += "</tbody></table>\n";
  return html;
}

std::string render_hparams(const std::vector<Run>& runs) {
  std::vector<std::string> keys;
  for (const auto& run : runs)
    if (run.hparams)
      for (const auto& [k, _] : *run.hparams)
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  if (keys.empty()) {
    bool any_file = false;
    for (const auto& run : runs) any_file = any_file || run.hparams.has_value();
    return any_file ? "<p class=\"none\">No hyperparameters (hparams.yaml is empty).</p>\n"
                    : "<p class=\"none\">No hparams.yaml.</p>\n";
  }
  std::string html = "<table class=\"hparams\"><thead><tr><th>name</th>";
  for (const auto& run : runs)
    html += fmt::format("<th>{}{}</th>", escape(run.label), run.hparams ? "" : " <small>(no hparams.yaml)</small>");
  html += "</tr></thead><tbody>\n";
  for (const auto& key : keys) {
    std::vector<std::optional<std::string>> values;
    for (const auto& run : runs) {
      std::optional<std::string> v;
      if (run.hparams)
        for (const auto& [k, value] : *run.hparams)
          if (k == key) v = value;
      values.push_back(v);
    }
    const bool differs = std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end();
    html += fmt::format("<tr data-hparam=\"{}\"{}><td><code>{}</code></td>", escape(key),
                        differs ? " class=\"differs\"" : "", escape(key));
    for (const auto& v : values) html += v ? fmt::format("<td>{}</td>", escape(*v)) : "<td class=\"none\">—</td>";
    html += "</tr>\n";
  }
  html += "</tbody></table>\n";
  if (runs.size() > 1) html += "<p class=\"note\">Highlighted rows differ between runs.</p>\n";
  return html;
}

std::string render_checkpoints(const std::vector<Run>& runs) {
  size_t count = 0;
  for (const auto& run : runs) count += run.checkpoints.size();
  if (count == 0) return "<p class=\"none\">No checkpoints/*.ckpt.</p>\n";
  std::string html =
      "<table class=\"checkpoints\"><thead><tr><th>run</th><th>file</th><th>size</th><th>modified</th></tr></thead>"
      "<tbody>\n";
  for (const auto& run : runs)
    for (const auto& ckpt : run.checkpoints)
      html += fmt::format(
          "<tr data-checkpoint=\"{0}\"><td>{1}</td><td><code>checkpoints/{0}</code></td><td class=\"num\" "
          "title=\"{2} bytes\">{3}</td><td>{4}</td></tr>\n",
          escape(ckpt.name), escape(run.label), ckpt.size_bytes, human_size(ckpt.size_bytes), local_time(ckpt.mtime_s));
  html += "</tbody></table>\n";
  return html;
}

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#222;background:#f6f7f9}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:24px 0 8px}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
table{border-collapse:collapse;background:#fff;border:1px solid #ddd}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f0f1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.differs td{background:#fff6d6}.none{color:#888}.note{color:#666;font-size:12px;margin:6px 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.grid-charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
svg.chart{width:100%;height:auto;background:#fff;border:1px solid #ddd;border-radius:4px}
svg.chart text{font-size:11px;fill:#555}svg.chart text.title{font-size:14px;font-weight:600;fill:#222}
svg.chart .grid{stroke:#eee}svg.chart .frame{fill:none;stroke:#bbb}
svg.chart .epochs line{stroke:#999;stroke-dasharray:3 3}svg.chart .epochs text{fill:#888;font-size:10px}
svg.chart .curve path{fill:none;stroke-width:1.8;stroke-linejoin:round}svg.chart .curve circle{stroke:none}
svg.chart .legend line{stroke-width:2.2}
)";

// After load, each chart is marked data-rendered="true" only if every curve has geometry: a
// non-empty bounding box, and a path of non-zero length where it has one (a check the tests run
// in a headless browser).
constexpr const char* kScript = R"(
addEventListener('load',function(){var n=0;document.querySelectorAll('svg.chart').forEach(function(s){
var c=s.querySelectorAll('g.curve'),ok=c.length>0;c.forEach(function(g){var b=g.getBBox();
if(!(b.width>0||b.height>0))ok=false;g.querySelectorAll('path').forEach(function(p){if(!(p.getTotalLength()>0))ok=false;});});
if(ok){s.setAttribute('data-rendered','true');n++;}});document.body.setAttribute('data-charts-rendered',n);});
)";

}  // namespace

std::string chart_key(const std::string& metric) { return role_of(metric).key; }

std::string render_page(const std::vector<Run>& runs, const std::string& title) {
  const auto charts = build_charts(runs);
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"generator\" content=\"lightning-plot\"><title>{0}</title>\n<style>{1}</style></head>\n"
      "<body data-charts=\"{2}\">\n<h1>{0}</h1>\n",
      escape(title), kStyle, charts.size());
  html += "<section id=\"runs\">\n" + render_runs(runs);
  if (std::any_of(runs.begin(), runs.end(),
                  [](const Run& r) { return r.sources.size() > 1 && r.sources.front() == "metrics.csv"; }))
    html +=
        "<p class=\"note\">Where a folder has both metrics.csv and event files, each metric is read from metrics.csv "
        "(full precision; event files hold float32) and from the event files only when metrics.csv lacks it, so no "
        "curve is drawn twice.</p>\n";
  html += "</section>\n<section id=\"metrics\"><h2>Metrics</h2>\n<div class=\"grid-charts\">\n";
  for (const auto& chart : charts) html += render_chart(chart, runs);
  html += "</div>\n<p class=\"note\">Step on x; dashed gray lines: epoch boundaries (eN: epoch N starts).";
  if (runs.size() > 1) html += " Colors: runs; line styles: metrics.";
  html += "</p>\n</section>\n";
  html += "<section id=\"hparams\"><h2>Hyperparameters</h2>\n" + render_hparams(runs) + "</section>\n";
  html += "<section id=\"checkpoints\"><h2>Checkpoints</h2>\n" + render_checkpoints(runs) + "</section>\n";
  html += fmt::format("<script>{}</script>\n</body></html>\n", kScript);
  return html;
}

}  // namespace lightning::plot
