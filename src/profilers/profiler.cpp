#include "lightning/profilers/profiler.h"

#include "lightning/utilities/errors.h"
#include "profilers/report.h"
#include "utilities/fs.h"

#include <fmt/format.h>

#include <iostream>

namespace lightning::profilers {

Profiler::Profiler(std::optional<std::string> dirpath, std::optional<std::string> filename)
    : dirpath(std::move(dirpath)), filename(std::move(filename)) {}

Profiler::~Profiler() = default;

Profiler::Scope::Scope(Profiler& profiler, std::string action_name)
    : profiler_(profiler), action_(std::move(action_name)) {
  profiler_.start(action_);
}

Profiler::Scope::~Scope() {
  try {
    profiler_.stop(action_);
  } catch (const std::exception& e) {
    // A destructor must not throw; a profiler that cannot stop says so.
    std::cerr << fmt::format("Profiler: stopping '{}' failed: {}", action_, e.what()) << std::endl;
  }
}

void Profiler::setup(const std::string& stage, std::optional<int64_t> local_rank, std::optional<std::string> log_dir) {
  stage_ = stage;
  local_rank_ = local_rank;
  if (!dirpath) dirpath = std::move(log_dir);
}

void Profiler::teardown(const std::optional<std::string>&) { output_.reset(); }

std::string Profiler::prepare_filename(const std::optional<std::string>& action, const std::string& extension,
                                       const std::string& split) const {
  std::string name;
  auto add = [&](const std::string& part) { name += (name.empty() ? "" : split) + part; };
  if (stage_) add(*stage_);
  if (filename && !filename->empty()) add(*filename);
  if (local_rank_) add(std::to_string(*local_rank_));
  if (action) add(*action);
  return name + extension;
}

std::string Profiler::report_title() const {
  std::string title;
  for (char c : stage_.value_or("")) title += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return (title.empty() ? "" : title + " ") + "Profiler Report";
}

void Profiler::describe() {
  // Lightning: into `<dirpath>/<stage>-<filename>[-<local_rank>].txt` (appended) when both are
  // set, else printed by local rank 0.
  const std::string report = summary();
  if (filename && !filename->empty() && dirpath) {
    lightning::detail::make_dirs(*dirpath);
    const std::string path = *dirpath + "/" + prepare_filename();
    output_ = std::make_unique<std::ofstream>(path, std::ios::app);
    *output_ << report;
    output_->flush();
    if (!*output_)
      throw MisconfigurationException(
          fmt::format("Profiler: cannot write the report '{}'; accepted: a dirpath where this process may write", path));
  } else if (!report.empty() && local_rank_.value_or(0) == 0) {
    std::cerr << report << std::endl;
  }
  teardown(stage_);
}

namespace detail {

std::string python_general(double value, int precision) {
  // Python's format spec ".N" without a type: %g, except that a result needing ".0" added
  // takes the exponent form one digit earlier (CPython's `add_dot_0_if_integer`).
  std::string s = fmt::format("{:.{}g}", value, precision);
  if (s.find_first_of(".eni") != std::string::npos) return s;
  const auto digits = static_cast<int>(s.size()) - (s[0] == '-' ? 1 : 0);
  if (digits < precision || value == 0) return s + ".0";
  std::string scientific = fmt::format("{:.{}e}", value, precision - 1);
  const auto e = scientific.find('e');
  std::string mantissa = scientific.substr(0, e);
  while (mantissa.back() == '0') mantissa.pop_back();
  if (mantissa.back() == '.') mantissa.pop_back();
  return mantissa + scientific.substr(e);
}

std::string expand_tabs(const std::string& text, size_t tabsize) {
  std::string out;
  size_t column = 0;
  for (char c : text) {
    if (c == '\t') {
      const size_t spaces = tabsize - column % tabsize;
      out.append(spaces, ' ');
      column += spaces;
    } else {
      out += c;
      column = (c == '\n' || c == '\r') ? 0 : column + 1;
    }
  }
  return out;
}

}  // namespace detail
}  // namespace lightning::profilers
