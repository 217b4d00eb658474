#include "lightning/data/collate.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>
#include <torch/types.h>

#include <string>

namespace lightning {
namespace {

std::string shape_str(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::string field_str(size_t field, const std::string& name) {
  return name.empty() ? fmt::format("field {}", field) : fmt::format("field {} ('{}')", field, name);
}

}  // namespace

Batch default_collate(const std::vector<Batch>& samples) {
  if (samples.empty())
    throw MisconfigurationException("default_collate: got 0 samples; expected at least one sample");
  const Batch& first = samples.front();
  const size_t num_fields = first.size();
  for (size_t s = 1; s < samples.size(); ++s) {
    if (samples[s].size() != num_fields)
      throw MisconfigurationException(
          fmt::format("default_collate: sample {} has {} field(s) but sample 0 has {}; every sample "
                      "must have the same fields",
                      s, samples[s].size(), num_fields));
  }

  Batch out;
  std::vector<torch::Tensor> column(samples.size());
  for (size_t f = 0; f < num_fields; ++f) {
    const std::string& name = first.names()[f];
    const torch::Tensor& ref = first.fields()[f];
    if (!ref.defined())
      throw MisconfigurationException(fmt::format(
          "default_collate: {} of sample 0 is an undefined tensor; expected a defined tensor",
          field_str(f, name)));
    for (size_t s = 0; s < samples.size(); ++s) {
      const torch::Tensor& t = samples[s].fields()[f];
      if (s > 0) {
        if (samples[s].names()[f] != name)
          throw MisconfigurationException(fmt::format(
              "default_collate: field {} of sample {} is named '{}' but in sample 0 it is named "
              "'{}'; every sample must have the same fields",
              f, s, samples[s].names()[f], name));
        if (!t.defined())
          throw MisconfigurationException(fmt::format(
              "default_collate: {} of sample {} is an undefined tensor; expected a defined tensor",
              field_str(f, name), s));
        if (t.sizes() != ref.sizes())
          throw MisconfigurationException(fmt::format(
              "default_collate: {} of sample {} has shape {} but sample 0 has shape {}; fields "
              "must have the same shape in every sample to be stacked",
              field_str(f, name), s, shape_str(t.sizes()), shape_str(ref.sizes())));
      }
      column[s] = t;
    }
    out.push_back(torch::stack(column), name);
  }
  return out;
}

}  // namespace lightning
