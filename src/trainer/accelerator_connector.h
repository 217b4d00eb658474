#pragma once
// The Trainer's `accelerator`, `strategy`, `devices`, `num_nodes` and `plugins` flags, resolved
// into one Strategy that owns its accelerator, precision plugin and CheckpointIO (Lightning's
// `_AcceleratorConnector`).
#include "lightning/trainer/options.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lightning::detail {

struct ConnectedStrategy {
  std::shared_ptr<strategies::Strategy> strategy;
  std::vector<int64_t> device_ids;
  int64_t num_nodes = 1;
};

/// Throws MisconfigurationException naming the flag, its value and what is accepted.
/// `precision`: the resolved precision flag.
ConnectedStrategy connect_strategy(const TrainerOptions& options, const std::string& precision);

}  // namespace lightning::detail
