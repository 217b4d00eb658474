#include "lightning/callbacks/callback.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace lightning {

std::string Callback::state_key() const {
  // The demangled class name, without namespaces (Lightning uses the qualified class name).
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(typeid(*this).name(), nullptr, nullptr, &status),
                                                   std::free);
  std::string name = status == 0 && demangled ? demangled.get() : typeid(*this).name();
  auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

}  // namespace lightning
