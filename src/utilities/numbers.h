#pragma once
// Integers from outside input (flags, config values, environment variables): std::stoll throws
// std::out_of_range past int64 and std::invalid_argument on junk, which would escape our
// MisconfigurationExceptions (found by fuzz/).
#include <charconv>
#include <optional>
#include <string_view>

namespace lightning::detail {

/// The whole of `s` as an integer in `base` (an optional leading '+'); nullopt when it is not one
/// or does not fit in T.
template <typename T>
std::optional<T> parse_integer(std::string_view s, int base = 10) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  T out{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

}  // namespace lightning::detail
