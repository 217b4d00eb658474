#pragma once
// Helpers shared by the scheduler sources (lr_scheduler*.cpp): argument checks and reading and
// writing PyTorch's state-dict values.
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace lightning::optim::internal {

inline void require(bool ok, const char* scheduler, const std::string& message) {
  if (!ok) throw MisconfigurationException(fmt::format("{}: {}", scheduler, message));
}

inline c10::IValue doubles(const std::vector<double>& values) { return c10::List<double>(values); }

inline c10::IValue at(const Dict& state, const char* key) { return dict_at(state, key, "LR scheduler state"); }

inline double number(const c10::IValue& v) { return v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble(); }

inline std::vector<double> numbers(const c10::IValue& v) {
  std::vector<double> out;
  for (const auto& x : v.toListRef()) out.push_back(number(x));
  return out;
}

}  // namespace lightning::optim::internal
