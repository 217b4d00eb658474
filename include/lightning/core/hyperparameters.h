#pragma once
/// Hyperparameters saved by `LightningModule::save_hyperparameters`, in insertion order.
#include <ATen/core/ivalue.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace lightning {

/// An ordered map from names to values (bool, int, double, string, tensors, lists, dicts:
/// anything `c10::IValue` holds), as Lightning's `hparams` AttributeDict.
class Hyperparameters {
 public:
  using Item = std::pair<std::string, c10::IValue>;
  Hyperparameters() = default;
  Hyperparameters(std::initializer_list<Item> items);

  /// Inserts or replaces `name`, keeping the first insertion's position.
  void set(const std::string& name, c10::IValue value);
  bool contains(const std::string& name) const;
  /// Throws std::out_of_range naming the key.
  const c10::IValue& at(const std::string& name) const;
  const c10::IValue& operator[](const std::string& name) const { return at(name); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
};

}  // namespace lightning
