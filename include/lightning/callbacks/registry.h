#pragma once
/// CallbackRegistry: the callbacks the command line builds by class name, with their arguments
/// (`--trainer.callbacks EarlyStopping --trainer.callbacks.monitor val_loss`, or in a config file
/// `callbacks: [{class_path: EarlyStopping, init_args: {monitor: val_loss}}]`). The built-ins:
/// ModelCheckpoint, EarlyStopping, LearningRateMonitor, ModelSummary, Timer, TQDMProgressBar,
/// GradientAccumulationScheduler, LearningRateFinder, BatchSizeFinder and OnExceptionCheckpoint,
/// with Lightning's argument names and defaults. Register your own the same way:
///
///     lightning::CallbackRegistry::instance().register_class<MyCallback>("MyCallback", "What it does");
#include "lightning/cli/arguments.h"

namespace lightning {

class Callback;

class CallbackRegistry : public cli::ClassRegistry<Callback> {
 public:
  /// The process-wide registry, with the built-in callbacks.
  static CallbackRegistry& instance();

 private:
  CallbackRegistry();
};

}  // namespace lightning
