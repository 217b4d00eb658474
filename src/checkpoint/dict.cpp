#include "lightning/checkpoint/dict.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning {

Dict new_dict() { return Dict(c10::StringType::get(), c10::AnyType::get()); }
Dict new_ordered_dict() { return Dict(c10::StringType::get(), c10::TensorType::get()); }
bool is_ordered_dict(const Dict& dict) {
  return dict.keyType()->kind() == c10::TypeKind::StringType && dict.valueType()->kind() == c10::TypeKind::TensorType;
}
c10::impl::GenericList new_list() { return c10::impl::GenericList(c10::AnyType::get()); }

c10::IValue dict_at(const Dict& dict, const std::string& key, const std::string& what) {
  auto it = dict.find(key);
  if (it == dict.end()) throw CheckpointError(fmt::format("{}: the key '{}' is missing", what, key));
  return it->value();
}

}  // namespace lightning
