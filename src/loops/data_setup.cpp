#include "loops/data_setup.h"

#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "trainer/resolved_options.h"

#include <fmt/format.h>

#include <iostream>

namespace lightning::detail {

int64_t loader_length(const DataLoader& loader) {
  auto n = loader.size();
  return n ? static_cast<int64_t>(*n) : kUnbounded;
}

DataLoader maybe_without_shuffle(const DataLoader& loader, bool overfit, const char* which) {
  if (!overfit || !loader.options().shuffle) return loader;
  rank_zero_info(fmt::format(
      "You requested to overfit but enabled {} dataloader shuffling. We are turning off the {} "
      "dataloader shuffling for you.",
      which, which));
  return loader.without_shuffle();
}

void throw_no_dataloader(const char* name, const char* entry_point) {
  throw MisconfigurationException(fmt::format(
      "No {0} dataloader was found for `Trainer.{1}`; accepted: dataloaders passed to {1}(), a datamodule whose "
      "{0}_dataloader() returns some, or a LightningModule::{0}_dataloader() override that returns some",
      name, entry_point));
}

}  // namespace lightning::detail
