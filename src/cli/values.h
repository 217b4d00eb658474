#pragma once
// What the command line and LightningCLI share: YAML in and out of cli::Value, conversions of
// values to declared argument types, and "did you mean" suggestions.
#include "lightning/cli/arguments.h"

#include <string>
#include <vector>

namespace lightning::cli::detail {

/// The value a YAML text spells (YAML 1.2's core schema for plain scalars; quoted scalars are
/// strings). `origin` names the text in syntax errors (MisconfigurationException: "<origin>=<text>
/// is not valid YAML: ...").
Value parse_yaml(const std::string& text, const std::string& origin);
/// The mapping a YAML file holds, every value's `origin` set to "path:line". Throws
/// MisconfigurationException naming the file (and the line and column of a syntax error).
Value load_yaml_file(const std::string& path);
/// A command-line token for a key: taken as it is for string-only keys ("null" is null), else parsed as YAML.
Value parse_token(const std::string& token, bool string_only, const std::string& key);

/// Block-style YAML, as PyYAML writes it (lists under a key not indented, floats with a '.', strings
/// quoted only where they would read back as something else).
std::string to_yaml(const Value& v);
/// A scalar as `to_yaml` writes it.
std::string yaml_scalar(const Value& v);
/// A float as Python's repr, in YAML spelling (".inf", ".nan"); "1.0", "0.25", "1.0e-05".
std::string yaml_float(double v);

/// `key=value is invalid; accepted: ...`, prefixed with the value's origin when it has one.
[[noreturn]] void throw_invalid(const std::string& key, const Value& v, const std::string& accepted);
/// "an int", "a float or null", "one of 'min', 'max'"...
std::string accepted_text(const Argument& arg);
/// `v` converted to `arg`'s type (an int for a float argument becomes a float, "yes" for a bool one
/// becomes true); throws `throw_invalid` for a value of another type, or outside `choices`.
Value convert(const Argument& arg, const Value& v, const std::string& key);
/// Lightning's `str_to_bool` spellings (y, yes, t, true, on, 1 / n, no, f, false, off, 0), any case.
std::optional<bool> bool_of(const Value& v);

/// Up to three of `candidates` closest to `name` (edit distance, also of the part after the last '.').
std::vector<std::string> closest(const std::string& name, const std::vector<std::string>& candidates);
/// "; did you mean 'a' or 'b'?" for the closest candidates, or "" when none is close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates,
                         const std::string& prefix = "");

}  // namespace lightning::cli::detail
