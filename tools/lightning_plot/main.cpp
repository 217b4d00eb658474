// lightning-plot: one self-contained HTML page of the metrics, hyperparameters and checkpoints of
// one or more lightning_logs/version_N folders, for machines without TensorBoard.
#include "lightning_plot/html.h"
#include "lightning_plot/run.h"

#include "utilities/fs.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: lightning-plot [-o OUT.html] [--title T] VERSION_DIR...\n"
    "\n"
    "Writes one self-contained HTML page (no network needed) with a chart per logged metric, the\n"
    "hyperparameters (hparams.yaml) and the checkpoints (checkpoints/*.ckpt) of each\n"
    "lightning_logs/version_N folder given; several folders are compared on the same charts.\n"
    "Metrics are read from metrics.csv (CSVLogger) and events.out.tfevents.* (TensorBoardLogger);\n"
    "a metric in both is read from metrics.csv.\n"
    "\n"
    "  -o, --output OUT.html  the page to write (default: lightning_plot.html)\n"
    "  --title T              the page's title (default: the runs' names)\n"
    "  -h, --help             this help\n"
    "\n"
    "Exit status: 0 written, 2 bad command line or unreadable input (nothing written), 1 the page\n"
    "could not be written.\n";

int usage_error(const std::string& message) {
  std::cerr << "lightning-plot: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace plot = lightning::plot;
  std::string output = "lightning_plot.html", title;
  std::vector<std::string> dirs;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      dirs.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      const char* v = value();
      if (!v || !*v) return usage_error(arg + " needs a file name, e.g. " + arg + " runs.html");
      output = v;
    } else if (arg.rfind("--output=", 0) == 0 && arg.size() > 9) {
      output = arg.substr(9);
    } else if (arg == "--title") {
      const char* v = value();
      if (!v) return usage_error("--title needs a text, e.g. --title 'lr sweep'");
      title = v;
    } else if (arg.rfind("--title=", 0) == 0) {
      title = arg.substr(8);
    } else {
      return usage_error("unknown option '" + arg + "'; accepted: -o/--output OUT.html, --title T, --help");
    }
  }
  if (dirs.empty()) return usage_error("no VERSION_DIR given; pass one or more lightning_logs/version_N folders");

  std::vector<plot::Run> runs;
  try {
    for (const auto& dir : dirs) runs.push_back(plot::load_run(dir));
  } catch (const plot::InputError& e) {
    std::cerr << "lightning-plot: " << e.what() << std::endl;
    return 2;
  }
  const auto labels = plot::unique_labels(dirs);
  for (size_t i = 0; i < runs.size(); ++i) runs[i].label = labels[i];
  if (title.empty()) {
    title = "Lightning runs:";
    for (size_t i = 0; i < labels.size(); ++i) title += (i ? ", " : " ") + labels[i];
  }

  const std::string page = plot::render_page(runs, title);
  // All or nothing: a failed write leaves no page, not half of one.
  if (const int err = lightning::detail::write_file_atomically(output, page)) {
    std::cerr << "lightning-plot: cannot write '" << output << "': " << std::strerror(err) << std::endl;
    return 1;
  }
  std::cout << "lightning-plot: wrote " << output << std::endl;
  return 0;
}
