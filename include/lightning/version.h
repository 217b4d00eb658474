#pragma once
/// The library's version (written into checkpoints as "lightning_cpp_version"), and the Lightning
/// release whose checkpoint format ours follows ("pytorch-lightning_version").
#define LIGHTNING_VERSION_MAJOR 0
#define LIGHTNING_VERSION_MINOR 1
#define LIGHTNING_VERSION_PATCH 0

namespace lightning {
inline constexpr const char* kVersion = "0.1.0";
inline constexpr const char* kLightningFormatVersion = "2.2.5";
}  // namespace lightning
