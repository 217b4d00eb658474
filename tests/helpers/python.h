#pragma once
// Runs Debian's Python (the one with python3-torch) on a script, for interop tests.
// LIGHTNING_TEST_PYTHON names another interpreter (a PyTorch 2.x one, say).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace lightning::testing {

/// The interpreter: $LIGHTNING_TEST_PYTHON, else /usr/bin/python3.
inline const std::string& python() {
  static const std::string path = [] {
    const char* env = std::getenv("LIGHTNING_TEST_PYTHON");
    return std::string(env && *env ? env : "/usr/bin/python3");
  }();
  return path;
}

/// Whether `python() -c "import <module>"` works.
inline bool python_module_available(const std::string& module) {
  return std::system((python() + " -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

/// Whether the interpreter has torch (checked once).
inline bool python_torch_available() {
  static const bool available = python_module_available("torch");
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
  FILE* pipe = ::popen((python() + " " + script_path + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace lightning::testing
