#pragma once
/// A batch (or a single sample before collation): an ordered set of tensor fields,
/// addressed by position (`batch[0]`) and, optionally, by name (`batch["x"]`).
#include <torch/types.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace lightning {

class Batch {
 public:
  Batch() = default;
  /// Unnamed fields: `Batch{x, y}`.
  Batch(std::initializer_list<torch::Tensor> fields) : fields_(fields), names_(fields_.size()) {}
  explicit Batch(std::vector<torch::Tensor> fields)
      : fields_(std::move(fields)), names_(fields_.size()) {}
  /// Named fields: `Batch({{"x", x}, {"y", y}})`.
  Batch(std::initializer_list<std::pair<std::string, torch::Tensor>> named);

  /// Appends a field; `name` may be empty.
  void push_back(torch::Tensor field, std::string name = {});

  /// The field at `index`; throws std::out_of_range naming the index and the size.
  const torch::Tensor& operator[](size_t index) const;
  torch::Tensor& operator[](size_t index);
  /// The field called `name`; throws std::out_of_range naming the key and the known names.
  const torch::Tensor& operator[](const std::string& name) const;
  torch::Tensor& operator[](const std::string& name);
  bool contains(const std::string& name) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const std::vector<torch::Tensor>& fields() const { return fields_; }
  std::vector<torch::Tensor>& fields() { return fields_; }
  /// Field names, "" for unnamed fields.
  const std::vector<std::string>& names() const { return names_; }

  /// A copy with every field moved to `device` (a no-op for fields already there).
  Batch to(const torch::Device& device, bool non_blocking = false) const;
  /// Size of the first dimension of the first field that has one (0 for an empty batch).
  int64_t batch_size() const;

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<torch::Tensor> fields_;
  std::vector<std::string> names_;
};

}  // namespace lightning
