// libFuzzer target for the string forms of Trainer flags: max_time ("DD:HH:MM:SS"), devices
// ("auto", "3", "0,2", "1,", "-1") for CPU and CUDA, and precision ("bf16-mixed", "32", ...).
// Each string either resolves or throws MisconfigurationException quoting it.
#include <lightning/accelerators/cpu.h>
#include <lightning/accelerators/cuda.h>
#include <lightning/precision/precision.h>
#include <lightning/trainer/options.h>
#include <lightning/utilities/errors.h>

#include <string>

namespace {

template <typename F>
void expect_resolves_or_names(const std::string& flag, const std::string& value, F&& resolve) {
  try {
    resolve();
  } catch (const lightning::MisconfigurationException& e) {
    const std::string message = e.what();
    // Values are quoted as given, so a message names the flag and the value (a too long value may
    // be shortened, but never dropped).
    if (message.find(flag) == std::string::npos) __builtin_trap();
    if (value.size() < 64 && value.find('\0') == std::string::npos && message.find(value) == std::string::npos)
      __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  static const lightning::accelerators::CPUAccelerator cpu;
  static const lightning::accelerators::CUDAAccelerator cuda;
  expect_resolves_or_names("max_time", s, [&] {
    const double seconds = lightning::MaxTime(s).seconds().count();
    if (!(seconds >= 0)) __builtin_trap();
  });
  expect_resolves_or_names("devices", s, [&] { cpu.parse_devices(lightning::Devices(s)); });
  expect_resolves_or_names("devices", s, [&] { cuda.parse_devices(lightning::Devices(s)); });
  expect_resolves_or_names("precision", s, [&] { lightning::plugins::resolve_precision(s); });
  return 0;
}
