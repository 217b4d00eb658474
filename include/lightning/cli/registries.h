#pragma once
/// The classes the command line can build by name, besides callbacks (callbacks/registry.h):
/// models and datamodules (LightningCLI's subclass mode: `--model mlp`), loggers
/// (`--trainer.logger CSVLogger`) and plugins (`--trainer.plugins AsyncCheckpointIO`).
///
///     lightning::cli::ModelRegistry::instance().register_class<LitMLP>("mlp", "A two-layer perceptron");
///     lightning::cli::DataModuleRegistry::instance().register_class<MNISTData>("MNISTData");
#include "lightning/cli/arguments.h"

namespace lightning {
class LightningModule;
class LightningDataModule;
class Logger;
namespace plugins {
class Plugin;
}  // namespace plugins
}  // namespace lightning

namespace lightning::cli {

/// Models that `LightningCLI<LightningModule, ...>` (or `subclass_mode_model`) selects by name.
class ModelRegistry : public ClassRegistry<LightningModule> {
 public:
  static ModelRegistry& instance();

 private:
  ModelRegistry() : ClassRegistry("model") {}
};

/// Datamodules that `LightningCLI<..., LightningDataModule>` (or `subclass_mode_data`) selects by name.
class DataModuleRegistry : public ClassRegistry<LightningDataModule> {
 public:
  static DataModuleRegistry& instance();

 private:
  DataModuleRegistry() : ClassRegistry("datamodule") {}
};

/// Loggers for the `logger` flag: "TensorBoardLogger" and "CSVLogger" with their options. A
/// `save_dir` left null is the Trainer's `default_root_dir` (the folder the default logger uses).
class LoggerRegistry : public ClassRegistry<Logger> {
 public:
  static LoggerRegistry& instance();

 private:
  LoggerRegistry();
};

/// Plugins for the `plugins` flag: "TorchCheckpointIO", "AsyncCheckpointIO",
/// "LightningEnvironment", "TorchElasticEnvironment" and "SLURMEnvironment".
class PluginRegistry : public ClassRegistry<plugins::Plugin> {
 public:
  static PluginRegistry& instance();

 private:
  PluginRegistry();
};

}  // namespace lightning::cli
