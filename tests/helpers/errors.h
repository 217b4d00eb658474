#pragma once
// Assertion helpers for error messages.
#include <lightning/utilities/errors.h>

#include <exception>
#include <string>

namespace lightning::testing {

/// The message of the `Error` that `f` throws; other exception types are marked, and no
/// exception gives "<no exception>".
template <typename Error = MisconfigurationException, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other exception> ") + e.what();
  }
  return "<no exception>";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace lightning::testing
