#include "lightning/core/batch.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace lightning {

Batch::Batch(std::initializer_list<std::pair<std::string, torch::Tensor>> named) {
  for (const auto& [name, field] : named) push_back(field, name);
}

void Batch::push_back(torch::Tensor field, std::string name) {
  fields_.push_back(std::move(field));
  names_.push_back(std::move(name));
}

const torch::Tensor& Batch::operator[](size_t index) const {
  if (index >= fields_.size())
    throw std::out_of_range(
        fmt::format("Batch index {} is out of range: the batch has {} field(s)", index, fields_.size()));
  return fields_[index];
}

torch::Tensor& Batch::operator[](size_t index) {
  return const_cast<torch::Tensor&>(std::as_const(*this)[index]);
}

const torch::Tensor& Batch::operator[](const std::string& name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end() || name.empty()) {
    std::string known;
    for (const auto& n : names_)
      if (!n.empty()) known += (known.empty() ? "" : ", ") + n;
    throw std::out_of_range(fmt::format("Batch has no field named '{}' (fields: {})", name,
                                        known.empty() ? "none named" : known));
  }
  return fields_[static_cast<size_t>(it - names_.begin())];
}

torch::Tensor& Batch::operator[](const std::string& name) {
  return const_cast<torch::Tensor&>(std::as_const(*this)[name]);
}

bool Batch::contains(const std::string& name) const {
  return !name.empty() && std::find(names_.begin(), names_.end(), name) != names_.end();
}

Batch Batch::to(const torch::Device& device, bool non_blocking) const {
  Batch out;
  out.fields_.reserve(fields_.size());
  for (const auto& f : fields_)
    out.fields_.push_back(f.defined() && f.device() != device ? f.to(device, non_blocking) : f);
  out.names_ = names_;
  return out;
}

int64_t Batch::batch_size() const {
  for (const auto& f : fields_)
    if (f.defined() && f.dim() > 0) return f.size(0);
  return 0;
}

}  // namespace lightning
