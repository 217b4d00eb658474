#pragma once
// Running Debian's python3 (which has python3-torch) from interop tests.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace lightning::testing {

/// Debian's interpreter: the `python3` first on PATH may be another one without torch.
inline constexpr const char* kPython = "/usr/bin/python3";

/// Whether `import torch` works (the tests skip otherwise; CI installs python3-torch).
inline bool python_torch_available() {
  static const bool available =
      std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return available;
}

/// Runs `script` (written to `script_path`) with the given arguments; returns the exit status
/// and appends the script's stdout and stderr to `output`.
inline int run_python(const std::string& script, const std::string& script_path, const std::string& args,
                      std::string* output = nullptr) {
  std::ofstream(script_path) << script;
  const std::string command = std::string(kPython) + " " + script_path + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  std::string text;
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (output) *output += text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace lightning::testing
