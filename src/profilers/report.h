#pragma once
// Text helpers the profilers' reports share (Lightning builds them with Python's formatting).
#include <string>

namespace lightning::profilers::detail {

/// Python's `f"{value:.{precision}}"` ("0.0012346", "12.0", "1.5e-05").
std::string python_general(double value, int precision);
/// Python's `str.expandtabs(tabsize)`.
std::string expand_tabs(const std::string& text, size_t tabsize = 8);

}  // namespace lightning::profilers::detail
