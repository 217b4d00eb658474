#pragma once
// Small statistics shared by the benchmarks.
#include <algorithm>
#include <vector>

namespace bench {

/// The median (upper middle for an even count) of `v`.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace bench
