// libFuzzer target for the checkpoint reader: any input either loads or throws CheckpointError.
// Anything else (a crash, a sanitizer report, another exception type) is a bug.
#include <lightning/checkpoint/serialization.h>
#include <lightning/utilities/errors.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lightning::torch_load_from_bytes(data, size, "fuzz-input");
  } catch (const lightning::CheckpointError&) {
  }
  return 0;
}
