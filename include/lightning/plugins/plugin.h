#pragma once
/// The base of everything `TrainerOptions::plugins` accepts.

namespace lightning::plugins {

/// A Trainer plugin: CheckpointIO implementations (and, with their issues, precision plugins
/// and cluster environments) derive from it.
class Plugin {
 public:
  virtual ~Plugin() = default;
};

}  // namespace lightning::plugins
