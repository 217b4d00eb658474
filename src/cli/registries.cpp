#include "lightning/cli/registries.h"

#include "lightning/core/datamodule.h"
#include "lightning/core/module.h"
#include "lightning/loggers/loggers.h"
#include "lightning/plugins/checkpoint_io.h"
#include "lightning/plugins/environments.h"

#include <fmt/format.h>

namespace lightning::cli {
namespace {

std::optional<LoggerVersion> version_arg(const InitArgs& v, const std::string& owner) {
  const Value& version = v["version"];
  if (version.is_null()) return std::nullopt;
  if (version.is_int()) return LoggerVersion(version.as_int());
  if (version.is_string()) return LoggerVersion(version.as_string());
  throw MisconfigurationException(fmt::format(
      "{}(version={}) is invalid; accepted: null (the next free version), an int or a string", owner, version.str()));
}

// Unset: the Trainer's default_root_dir, which LightningCLI fills in before building loggers.
std::string save_dir_arg(const InitArgs& v) { return v.get<std::optional<std::string>>("save_dir").value_or("."); }

}  // namespace

ModelRegistry& ModelRegistry::instance() {
  static ModelRegistry registry;
  return registry;
}

DataModuleRegistry& DataModuleRegistry::instance() {
  static DataModuleRegistry registry;
  return registry;
}

LoggerRegistry& LoggerRegistry::instance() {
  static LoggerRegistry registry;
  return registry;
}

LoggerRegistry::LoggerRegistry() : ClassRegistry("logger") {
  register_class(
      "TensorBoardLogger",
      [](Arguments& a) {
        const loggers::TensorBoardLoggerOptions d;
        a.add<std::optional<std::string>>("save_dir", std::nullopt,
                                          "Root folder (null: the Trainer's default_root_dir)");
        a.add("name", d.name, "Experiment name: the folder under save_dir");
        a.add_any("version", nullptr, "An int (version_N) or a folder name; null: the next free version");
        a.add("log_graph", d.log_graph, "Log the model graph (LibTorch modules cannot be traced: warns only)");
        a.add("default_hp_metric", d.default_hp_metric, "Write hp_metric = -1 with the hyperparameters");
        a.add("prefix", d.prefix, "Put before every metric key, joined with '-'");
        a.add("sub_dir", d.sub_dir, "A folder inside the version folder for the event files");
        a.add("flush_secs", d.flush_secs, "Flush the event file every this many seconds");
        a.add("max_queue", d.max_queue, "Events queued before a flush");
      },
      [](const InitArgs& v) -> std::shared_ptr<Logger> {
        loggers::TensorBoardLoggerOptions o;
        o.name = v.get<std::string>("name");
        o.version = version_arg(v, "TensorBoardLogger");
        o.log_graph = v.get<bool>("log_graph");
        o.default_hp_metric = v.get<bool>("default_hp_metric");
        o.prefix = v.get<std::string>("prefix");
        o.sub_dir = v.get<std::optional<std::string>>("sub_dir");
        o.flush_secs = v.get<double>("flush_secs");
        o.max_queue = v.get<int64_t>("max_queue");
        return std::make_shared<loggers::TensorBoardLogger>(save_dir_arg(v), o);
      },
      "TensorBoard event files and hparams.yaml in save_dir/name/version_N");

  register_class(
      "CSVLogger",
      [](Arguments& a) {
        const loggers::CSVLoggerOptions d;
        a.add<std::optional<std::string>>("save_dir", std::nullopt,
                                          "Root folder (null: the Trainer's default_root_dir)");
        a.add("name", d.name, "Experiment name: the folder under save_dir");
        a.add_any("version", nullptr, "An int (version_N) or a folder name; null: the next free version");
        a.add("prefix", d.prefix, "Put before every metric key, joined with '-'");
        a.add("flush_logs_every_n_steps", d.flush_logs_every_n_steps, "Write rows to disk every N steps");
      },
      [](const InitArgs& v) -> std::shared_ptr<Logger> {
        loggers::CSVLoggerOptions o;
        o.name = v.get<std::string>("name");
        o.version = version_arg(v, "CSVLogger");
        o.prefix = v.get<std::string>("prefix");
        o.flush_logs_every_n_steps = v.get<int64_t>("flush_logs_every_n_steps");
        return std::make_shared<loggers::CSVLogger>(save_dir_arg(v), o);
      },
      "metrics.csv and hparams.yaml in save_dir/name/version_N");
}

PluginRegistry& PluginRegistry::instance() {
  static PluginRegistry registry;
  return registry;
}

PluginRegistry::PluginRegistry() : ClassRegistry("plugin") {
  register_class<plugins::TorchCheckpointIO>("TorchCheckpointIO", "Atomic torch.save checkpoints (the default)");
  register_class<plugins::AsyncCheckpointIO>("AsyncCheckpointIO", "Save checkpoints on a background thread");
  register_class<plugins::LightningEnvironment>("LightningEnvironment", "Processes started by Lightning or by hand");
  register_class<plugins::TorchElasticEnvironment>("TorchElasticEnvironment", "Processes started by torchrun");
  register_class<plugins::SLURMEnvironment>("SLURMEnvironment", "Processes started by SLURM");
}

}  // namespace lightning::cli
