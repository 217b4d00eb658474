#pragma once
/// Turning a list of samples into one batch.
#include "lightning/core/batch.h"

#include <functional>
#include <vector>

namespace lightning {

/// A custom collate function, as PyTorch's `collate_fn`.
using CollateFn = std::function<Batch(const std::vector<Batch>& samples)>;

/// Stacks field i of every sample along a new first dimension; keeps the field names.
/// Throws MisconfigurationException when samples differ in field count or field shapes.
Batch default_collate(const std::vector<Batch>& samples);

}  // namespace lightning
