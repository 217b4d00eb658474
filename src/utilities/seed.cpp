#include "lightning/utilities/seed.h"

#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstdlib>
#include <iostream>

namespace lightning {

uint64_t seed_everything(uint64_t seed, bool) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
  std::srand(static_cast<unsigned>(seed));
  std::cerr << "Seed set to " << seed << std::endl;
  return seed;
}

}  // namespace lightning
