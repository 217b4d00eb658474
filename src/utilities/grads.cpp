#include "lightning/utilities/grads.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace lightning {
namespace {

/// Python's `str(float(p))`: "2.0", "1.5", "inf".
std::string python_float(double p) {
  if (std::isinf(p)) return p > 0 ? "inf" : "-inf";
  auto s = fmt::format("{}", p);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::map<std::string, torch::Tensor> grad_norm(const torch::nn::Module& module, double norm_type,
                                               const std::string& group_separator) {
  if (!(norm_type > 0))
    throw MisconfigurationException(fmt::format(
        "grad_norm: `norm_type` must be a positive number or 'inf' (infinity norm). Got {}", norm_type));
  const auto prefix = "grad_" + python_float(norm_type) + "_norm";
  std::map<std::string, torch::Tensor> norms;
  std::vector<torch::Tensor> values;
  for (const auto& item : module.named_parameters()) {
    const auto& grad = item.value().grad();
    if (!grad.defined()) continue;
    auto norm = grad.detach().norm(norm_type);
    values.push_back(norm);
    norms.emplace(prefix + group_separator + item.key(), std::move(norm));
  }
  if (!values.empty()) norms.emplace(prefix + "_total", torch::stack(values).norm(norm_type));
  return norms;
}

}  // namespace lightning
