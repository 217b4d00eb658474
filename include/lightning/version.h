#pragma once
/// The library's version (also written into checkpoints as "pytorch-lightning_version").
#define LIGHTNING_VERSION_MAJOR 0
#define LIGHTNING_VERSION_MINOR 1
#define LIGHTNING_VERSION_PATCH 0

namespace lightning {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace lightning
