// libFuzzer target for config YAML (LightningCLI's --config files and YAML values on the command
// line): any input either parses or throws MisconfigurationException; what parses writes back as
// YAML that reads back to the same text (config.yaml and --print_config round-trip).
#include "fuzz_file.h"

#include "cli/values.h"

#include <lightning/utilities/errors.h>

#include <string>

namespace {

void check_round_trip(const lightning::cli::Value& v) {
  using namespace lightning::cli::detail;
  const std::string once = to_yaml(v);
  std::string twice;
  try {
    twice = to_yaml(parse_yaml(once, "round-trip"));
  } catch (const lightning::MisconfigurationException&) {
    __builtin_trap();  // we wrote YAML we cannot read
  }
  if (twice != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lightning::fuzz::MemoryFile file;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    check_round_trip(lightning::cli::detail::parse_yaml(text, "fuzz"));
  } catch (const lightning::MisconfigurationException&) {
  }
  file.write(data, size);
  try {
    check_round_trip(lightning::cli::detail::load_yaml_file(file.path()));
  } catch (const lightning::MisconfigurationException& e) {
    if (std::string(e.what()).find(file.path()) == std::string::npos) __builtin_trap();
  }
  return 0;
}
