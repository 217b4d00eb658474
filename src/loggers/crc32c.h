#pragma once
// CRC32C (Castagnoli), as TensorBoard's record framing uses it.
#include <cstddef>
#include <cstdint>

namespace lightning::detail {

/// CRC-32C of `size` bytes (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF),
/// with the CPU's crc32 instruction where it has one.
uint32_t crc32c(const void* data, size_t size);
/// The same by table lookups, on any CPU.
uint32_t crc32c_portable(const void* data, size_t size);
/// TensorBoard's masked CRC: rotate right by 15 bits and add 0xA282EAD8.
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace lightning::detail
