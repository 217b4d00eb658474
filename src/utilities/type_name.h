#pragma once
// Class names for checkpoint keys (Lightning uses `__class__.__qualname__`).
#include <string>
#include <typeinfo>

namespace lightning::detail {

/// The demangled class name of `type`, without namespaces.
std::string class_name(const std::type_info& type);

}  // namespace lightning::detail
