// libFuzzer target for the IDX reader (MNIST-style datasets, gzip-compressed or not): any input
// either reads or throws MisconfigurationException naming the file.
#include "fuzz_file.h"

#include <lightning/data/datasets/mnist.h>
#include <lightning/utilities/errors.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lightning::fuzz::MemoryFile file;
  file.write(data, size);
  try {
    lightning::read_idx_file(file.path());
  } catch (const lightning::MisconfigurationException& e) {
    if (std::string(e.what()).find(file.path()) == std::string::npos) __builtin_trap();
  }
  return 0;
}
