// libFuzzer target for the command line. The input's lines are the arguments, given either to
// LightningCLI (--model.* / --data.* / --trainer.* keys, --config files, class paths; built with
// run = false, so there is no subcommand and nothing trains) or to Trainer::add_argparse_args and
// from_argparse_args: the first byte's lowest bit picks, the next one turns on unprefixed flags.
// A line "--config=@" stands for a config file holding whatever follows a line "@@". Any input
// either builds a Trainer or is rejected with MisconfigurationException (or cli::Exit after
// --help / --print_config, or CLI11's usage errors); nothing else may escape.
#include "fuzz_file.h"

#include <lightning/cli/cli.h>
#include <lightning/trainer/trainer.h>

#include <CLI/CLI.hpp>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace lightning;

struct FuzzModel : LightningModule {
  static void add_arguments(cli::Arguments& args) {
    args.add("hidden", int64_t{64}, "width");
    args.add("lr", 1e-3, "learning rate");
    args.add("arch", std::string("mlp"), "architecture").only({"mlp", "cnn"});
    args.add("dropout", false, "dropout");
    args.add<std::optional<std::string>>("init", std::nullopt, "weights to start from");
    args.add("widths", std::vector<int64_t>{8, 8}, "layer widths");
  }
  explicit FuzzModel(const cli::InitArgs& args) {}
};

struct FuzzData : LightningDataModule {
  static void add_arguments(cli::Arguments& args) { args.add("batch_size", int64_t{32}, "batch size"); }
  explicit FuzzData(const cli::InitArgs& args) {}
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static fuzz::MemoryFile config;
  static std::ostringstream sink;
  sink.str("");
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (const auto at = text.find("\n@@\n"); at != std::string::npos) {
    const std::string yaml = text.substr(at + 4);
    config.write(reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size());
    text.resize(at);
  } else {
    config.write(nullptr, 0);
  }
  std::vector<std::string> args = lines_of(text);
  for (auto& a : args)
    if (a == "--config=@") a = "--config=" + config.path();
  try {
    if (data[0] & 1) {
      LightningCLIOptions options;
      options.run = false;
      options.save_config_callback = nullptr;
      options.out = &sink;
      options.seed_everything_default = false;
      options.trainer_defaults.enable_progress_bar = false;
      options.unprefixed_flags = (data[0] & 2) != 0;
      LightningCLI<FuzzModel, FuzzData> cli(args, std::move(options));
    } else {
      // One parser for many inputs (CLI11 clears its results at each parse), as a program that
      // parses more than once keeps one: adding the Trainer's flags was a fifth of each input.
      // CLI11 2.3 never clears parse_order(), which options_from_argparse_args reads in full, so
      // the App is made anew once its history is long.
      static std::unique_ptr<CLI::App> app_ptr;
      if (!app_ptr || app_ptr->parse_order().size() > 1000) {
        app_ptr = std::make_unique<CLI::App>("fuzz");
        Trainer::add_argparse_args(*app_ptr);
      }
      CLI::App& app = *app_ptr;
      std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
      app.parse(reversed);
      Trainer::from_argparse_args(app, TrainerOptions{.enable_progress_bar = false});
    }
  } catch (const MisconfigurationException&) {
  } catch (const cli::Exit&) {
  } catch (const CLI::Error&) {
    // CLI11's own rejections (an option missing its value, ...), which the program prints as usage.
  }
  return 0;
}
