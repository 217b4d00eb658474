#pragma once
/// Exceptions thrown by lightning.
#include <stdexcept>
#include <string>

namespace lightning {

/// Misuse of the library: a flag, argument or hook used in a way that is not supported.
/// The message names the flag or file, the value given and what is accepted.
class MisconfigurationException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lightning
