#include "lightning/utilities/registry.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning::detail {

void throw_unknown_name(const std::string& flag, const std::string& name, const std::vector<std::string>& accepted,
                        const std::string& object_kind) {
  std::vector<std::string> quoted;
  for (const auto& n : accepted) quoted.push_back("'" + n + "'");
  throw MisconfigurationException(fmt::format("{}='{}' is not supported by this build; accepted: {} (or {} object)",
                                              flag, name, fmt::join(quoted, ", "), object_kind));
}

void throw_bad_registration(const std::string& registry, const std::string& name, const std::string& why) {
  throw MisconfigurationException(
      fmt::format("{}: cannot register '{}': {}; accepted: a new name with a factory returning an object", registry,
                  name, why));
}

}  // namespace lightning::detail
