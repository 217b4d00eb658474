#pragma once
// PNG encoding (libpng) for TensorBoard images.
#include <cstdint>
#include <string>

namespace lightning::detail {

/// Encodes `height` x `width` pixels of `channels` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) 8-bit
/// samples, row-major HWC, as a PNG file in memory.
std::string encode_png(const uint8_t* hwc, int height, int width, int channels);

}  // namespace lightning::detail
