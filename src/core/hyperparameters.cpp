#include "lightning/core/hyperparameters.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace lightning {

Hyperparameters::Hyperparameters(std::initializer_list<Item> items) {
  for (const auto& [name, value] : items) set(name, value);
}

void Hyperparameters::set(const std::string& name, c10::IValue value) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.first == name; });
  if (it != items_.end())
    it->second = std::move(value);
  else
    items_.emplace_back(name, std::move(value));
}

bool Hyperparameters::contains(const std::string& name) const {
  return std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.first == name; });
}

const c10::IValue& Hyperparameters::at(const std::string& name) const {
  for (const auto& [key, value] : items_)
    if (key == name) return value;
  throw std::out_of_range(fmt::format("No hyperparameter named '{}'", name));
}

}  // namespace lightning
