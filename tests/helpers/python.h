#pragma once
// Runs Debian's Python (the one with python3-torch) on a script, for interop tests.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace lightning::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

/// Whether `/usr/bin/python3 -c "import torch"` works (checked once).
inline bool python_torch_available() {
  static const bool available =
      std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return available;
}

struct PythonResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

/// Writes `script` to `script_path` and runs it with `args` (already shell-quoted).
inline PythonResult run_python(const std::string& script, const std::string& script_path, const std::string& args) {
  std::ofstream(script_path) << script;
  PythonResult result;
  FILE* pipe = ::popen((std::string(kPython) + " " + script_path + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace lightning::testing
