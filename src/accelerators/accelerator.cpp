#include "lightning/accelerators/accelerator.h"

#include <fmt/format.h>

namespace lightning {

bool Devices::is_auto() const {
  const auto* s = std::get_if<std::string>(&value);
  return s && *s == "auto";
}

std::string Devices::str() const {
  if (const auto* n = std::get_if<int64_t>(&value)) return std::to_string(*n);
  if (const auto* s = std::get_if<std::string>(&value)) return "'" + *s + "'";
  return fmt::format("[{}]", fmt::join(std::get<std::vector<int>>(value), ", "));
}

}  // namespace lightning
