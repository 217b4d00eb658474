// The Python and torch objects of a `torch.save` pickle (see unpickler.h): what the globals
// that GLOBAL, REDUCE, NEWOBJ and BUILD name mean, the persistent storages, and the tensors
// rebuilt on them (checked against their storage). The opcode machine: unpickler.cpp.
#include "checkpoint/unpickler.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lightning::detail::unpickling {
namespace {

constexpr size_t kMaxDims = 64;

const std::unordered_map<std::string_view, Global>& known_globals() {
  static const std::unordered_map<std::string_view, Global> table = {
      {"collections.OrderedDict", Global::DictClass},
      {"collections.defaultdict", Global::DictClass},
      {"builtins.dict", Global::DictClass},
      {"lightning.fabric.utilities.data.AttributeDict", Global::DictClass},
      {"lightning_fabric.utilities.data.AttributeDict", Global::DictClass},
      {"lightning.pytorch.utilities.parsing.AttributeDict", Global::DictClass},
      {"pytorch_lightning.utilities.parsing.AttributeDict", Global::DictClass},
      {"builtins.set", Global::Set},
      {"builtins.frozenset", Global::Set},
      {"builtins.bytes", Global::Bytes},
      {"_codecs.encode", Global::CodecsEncode},
      {"builtins.complex", Global::Complex},
      {"torch.Size", Global::TorchSize},
      {"torch.device", Global::TorchDevice},
      {"torch._utils._rebuild_tensor", Global::RebuildTensor},
      {"torch._utils._rebuild_tensor_v2", Global::RebuildTensorV2},
      {"torch._utils._rebuild_parameter", Global::RebuildParameter},
      {"torch._utils._rebuild_parameter_with_state", Global::RebuildParameterWithState},
      {"torch._tensor._rebuild_from_type_v2", Global::RebuildFromTypeV2},
      {"torch.Tensor", Global::TensorClass},
      {"torch._tensor.Tensor", Global::TensorClass},
      {"torch.nn.parameter.Parameter", Global::TensorClass},
      {"torch.jit._pickle.restore_type_tag", Global::RestoreTypeTag},
      {"torch.jit._pickle.build_intlist", Global::BuildList},
      {"torch.jit._pickle.build_doublelist", Global::BuildList},
      {"torch.jit._pickle.build_boollist", Global::BuildList},
      {"torch.jit._pickle.build_tensorlist", Global::BuildList},
      {"copyreg._reconstructor", Global::Reconstructor},
  };
  return table;
}

// torch.<Name>Storage (also torch.cuda.*, and torch.storage.UntypedStorage, the class's
// own module): the element type of the storage.
std::optional<c10::ScalarType> storage_dtype(std::string_view module, std::string_view name) {
  if (module != "torch" && module != "torch.cuda" && module != "torch.storage") return std::nullopt;
  static const std::unordered_map<std::string_view, c10::ScalarType> table = {
      {"DoubleStorage", c10::kDouble},        {"FloatStorage", c10::kFloat},
      {"HalfStorage", c10::kHalf},            {"BFloat16Storage", c10::kBFloat16},
      {"LongStorage", c10::kLong},            {"IntStorage", c10::kInt},
      {"ShortStorage", c10::kShort},          {"CharStorage", c10::kChar},
      {"ByteStorage", c10::kByte},            {"BoolStorage", c10::kBool},
      {"ComplexFloatStorage", c10::kComplexFloat}, {"ComplexDoubleStorage", c10::kComplexDouble},
      {"UntypedStorage", c10::kByte},         {"_UntypedStorage", c10::kByte},
  };
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw FormatError("tensor size overflows");
  return r;
}
int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw FormatError("tensor size overflows");
  return r;
}

}  // namespace

bool Unpickler::is_string(const Node* n) { return n->kind == Kind::Value && n->value.isString(); }
int64_t Unpickler::as_int(const Node* n, const char* what) {
  if (n->kind == Kind::Value && n->value.isInt()) return n->value.toInt();
  if (n->kind == Kind::Value && n->value.isBool()) return n->value.toBool();
  throw FormatError(fmt::format("{} is not an integer", what));
}
std::vector<int64_t> Unpickler::int_list(const Node* n, const char* what) {
  if (n->kind != Kind::Tuple && n->kind != Kind::List) throw FormatError(fmt::format("{} is not a tuple", what));
  if (n->items.size() > kMaxDims) throw FormatError(fmt::format("{} has more than {} entries", what, kMaxDims));
  std::vector<int64_t> out;
  for (auto item : n->items) out.push_back(as_int(item, what));
  return out;
}
const std::vector<Node*>& Unpickler::tuple_items(const Node* args, const std::string& callee) {
  if (args->kind != Kind::Tuple) throw FormatError(fmt::format("arguments of '{}' are not a tuple", callee));
  return args->items;
}
void Unpickler::expect_args(const std::vector<Node*>& a, size_t lo, size_t hi, const std::string& callee) {
  if (a.size() < lo || a.size() > hi)
    throw FormatError(fmt::format("'{}' called with {} arguments", callee, a.size()));
}

Node* Unpickler::global(std::string module, std::string name) {
  // Protocol 2 writes Python 2 module names.
  if (module == "__builtin__") module = "builtins";
  if (module == "copy_reg") module = "copyreg";
  auto n = make(Kind::Global);
  if (auto dtype = storage_dtype(module, name)) {
    n->global = Global::StorageType;
    n->dtype = *dtype;
  }
  n->name = module + "." + name;
  if (auto it = known_globals().find(n->name); it != known_globals().end()) n->global = it->second;
  return n;
}

Node* Unpickler::new_object(Node* cls, Node* args) {
  if (cls->kind != Kind::Global) throw FormatError("NEWOBJ of something that is not a class");
  if (cls->global == Global::DictClass) return make(Kind::Dict);
  if (cls->global != Global::Unknown || !tuple_items(args, cls->name).empty())
    throw FormatError(fmt::format("unsupported global '{}'", cls->name));
  auto n = make(Kind::Object);
  n->name = cls->name;
  return n;
}

void Unpickler::build(Node* target, Node* state) {
  if (target->kind == Kind::Dict) return;  // a dict subclass's attributes (OrderedDict._metadata)
  if (target->kind == Kind::Value && target->value.isTensor()) {
    if (state->kind == Kind::Value && state->value.isNone()) return;
    if (state->kind == Kind::Dict && state->items.empty()) return;
    throw FormatError("tensor with Python attributes is not supported");
  }
  if (target->kind != Kind::Object) throw FormatError("BUILD on something that is not an object");
  auto add = [&](Node* s) {
    if (s->kind == Kind::Dict) {
      charge_copy(s->items.size());
      target->attrs.insert(target->attrs.end(), s->items.begin(), s->items.end());
    }
    else if (!(s->kind == Kind::Value && s->value.isNone()))
      throw FormatError(fmt::format("cannot restore the state of '{}'", target->name));
  };
  if (state->kind == Kind::Tuple && state->items.size() == 2) {  // (__dict__, __slots__ values)
    add(state->items[0]);
    add(state->items[1]);
  } else {
    add(state);
  }
}

Node* Unpickler::persistent_load(Node* pid) {
  if (pid->kind != Kind::Tuple || pid->items.size() != 5 || !is_string(pid->items[0]) ||
      pid->items[0]->value.toStringRef() != "storage")
    throw FormatError("unsupported persistent id (expected ('storage', type, key, location, numel))");
  auto type = pid->items[1];
  if (type->kind != Kind::Global || type->global != Global::StorageType)
    throw FormatError(fmt::format("unsupported storage type '{}'", type->name));
  auto key_node = pid->items[2];
  std::string key = is_string(key_node) ? key_node->value.toStringRef()
                                        : std::to_string(as_int(key_node, "storage key"));
  int64_t numel = as_int(pid->items[4], "storage size");
  if (numel < 0) throw FormatError("negative storage size");
  if (auto it = storages_.find(key); it != storages_.end()) {
    if (it->second->dtype != type->dtype)
      throw FormatError(fmt::format("storage '{}' used with two element types", key));
    return it->second;
  }
  auto nbytes = checked_mul(numel, static_cast<int64_t>(c10::elementSize(type->dtype)));
  auto n = make(Kind::Storage);
  n->dtype = type->dtype;
  n->storage = load_storage_(key, static_cast<size_t>(nbytes));
  storages_.emplace(key, n);
  return n;
}

// storage, offset, size, stride: checked against the storage before any memory is touched.
Node* Unpickler::rebuild_tensor(const std::vector<Node*>& a, bool requires_grad) {
  auto st = a[0];
  if (st->kind != Kind::Storage) throw FormatError("tensor without a storage");
  int64_t offset = as_int(a[1], "tensor storage offset");
  auto sizes = int_list(a[2], "tensor size");
  auto strides = int_list(a[3], "tensor stride");
  if (sizes.size() != strides.size()) throw FormatError("tensor size and stride differ in length");
  const int64_t storage_numel = static_cast<int64_t>(st->storage.nbytes() / c10::elementSize(st->dtype));
  if (offset < 0) throw FormatError("negative tensor storage offset");
  int64_t numel = 1, last = offset;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || strides[i] < 0) throw FormatError("negative tensor size or stride");
    numel = checked_mul(numel, sizes[i]);
    if (sizes[i] > 0) last = checked_add(last, checked_mul(sizes[i] - 1, strides[i]));
  }
  if (numel > 0 ? last >= storage_numel : offset > storage_numel)
    throw FormatError(fmt::format("tensor of size {} (offset {}, stride {}) exceeds its storage of {} elements",
                                  fmt::join(sizes, "x"), offset, fmt::join(strides, ","), storage_numel));
  auto t = at::empty({0}, at::TensorOptions().dtype(st->dtype)).set_(st->storage, offset, sizes, strides);
  if (requires_grad && (c10::isFloatingType(st->dtype) || c10::isComplexType(st->dtype))) t.requires_grad_(true);
  return value(std::move(t));
}

bool Unpickler::is_true(const Node* n) { return n->kind == Kind::Value && n->value.isBool() && n->value.toBool(); }
bool Unpickler::is_empty_state(const Node* n) {
  return (n->kind == Kind::Value && n->value.isNone()) || (n->kind == Kind::Dict && n->items.empty());
}
Node* Unpickler::tensor_arg(Node* n, const std::string& callee) {
  if (n->kind != Kind::Value || !n->value.isTensor()) throw FormatError(fmt::format("'{}' without a tensor", callee));
  return n;
}

Node* Unpickler::call(Node* callable, Node* args_node) {
  if (callable->kind != Kind::Global) throw FormatError("REDUCE on something that is not callable");
  const auto& name = callable->name;
  const auto& a = tuple_items(args_node, name);
  switch (callable->global) {
    case Global::DictClass: {
      auto n = make(Kind::Dict);
      // OrderedDict([(k, v), ...]); defaultdict(factory) has no items to take.
      if (name == "collections.OrderedDict" && a.size() == 1 && a[0]->kind == Kind::List) {
        charge_copy(2 * a[0]->items.size());
        for (auto pair : a[0]->items) {
          if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2)
            throw FormatError("OrderedDict item is not a pair");
          set_items(n, pair->items);
        }
      } else {
        expect_args(a, 0, 1, name);
      }
      return n;
    }
    case Global::Set:  // set([items]): the list itself stands for the set
      expect_args(a, 0, 1, name);
      if (a.empty()) return make(Kind::List);
      if (a[0]->kind != Kind::List) throw FormatError("set of a non-list");
      return a[0];
    case Global::Bytes:
      expect_args(a, 0, 0, name);
      return value(std::string());
    case Global::CodecsEncode: return latin1_bytes(a);
    case Global::Complex: {
      expect_args(a, 2, 2, name);
      auto number = [](const Node* n) {
        if (n->kind == Kind::Value && n->value.isDouble()) return n->value.toDouble();
        return static_cast<double>(as_int(n, "complex part"));
      };
      return value(c10::complex<double>(number(a[0]), number(a[1])));
    }
    case Global::TorchSize: {
      expect_args(a, 1, 1, name);
      int_list(a[0], "torch.Size");
      return container(Kind::Tuple, a[0]->items);
    }
    case Global::TorchDevice: {
      expect_args(a, 1, 2, name);
      if (!is_string(a[0])) throw FormatError("torch.device without a type string");
      auto s = a[0]->value.toStringRef();
      if (a.size() == 2 && !(a[1]->kind == Kind::Value && a[1]->value.isNone()))
        s += ":" + std::to_string(as_int(a[1], "device index"));
      return value(s);
    }
    case Global::RebuildTensor:
      expect_args(a, 4, 4, name);
      return rebuild_tensor(a, false);
    case Global::RebuildTensorV2:
      expect_args(a, 6, 7, name);
      return rebuild_tensor(a, is_true(a[4]));
    case Global::RebuildParameter:
    case Global::RebuildParameterWithState: {
      expect_args(a, callable->global == Global::RebuildParameter ? 3 : 4, 4, name);
      auto t = tensor_arg(a[0], name);
      if (a.size() == 4 && !is_empty_state(a[3])) throw FormatError("parameter with Python attributes is not supported");
      auto& tensor = t->value.toTensor();
      if (is_true(a[1]) && !tensor.requires_grad()) return value(tensor.detach().requires_grad_(true));
      return t;
    }
    case Global::RebuildFromTypeV2: {
      expect_args(a, 4, 4, name);
      if (a[1]->kind != Kind::Global || a[1]->global != Global::TensorClass)
        throw FormatError(fmt::format("unsupported tensor subclass '{}'", a[1]->name));
      if (!is_empty_state(a[3])) throw FormatError("tensor with Python attributes is not supported");
      if (a[0]->kind != Kind::Global || a[0]->global == Global::RebuildFromTypeV2)  // no unbounded recursion
        throw FormatError(fmt::format("'{}' of an unsupported function", name));
      return tensor_arg(call(a[0], a[2]), name);
    }
    case Global::RestoreTypeTag:
      expect_args(a, 2, 2, name);
      return a[0];
    case Global::BuildList:
      expect_args(a, 1, 1, name);
      if (a[0]->kind != Kind::List) throw FormatError(fmt::format("'{}' of a non-list", name));
      return a[0];
    case Global::Reconstructor: {
      expect_args(a, 3, 3, name);
      auto n = new_object(a[0], make(Kind::Tuple));
      if (a[2]->kind == Kind::Dict) {
        charge_copy(a[2]->items.size());
        set_items(n, a[2]->items);
      }
      else if (!(a[2]->kind == Kind::Value && a[2]->value.isNone()))
        throw FormatError(fmt::format("cannot restore the state of '{}'", a[0]->name));
      return n;
    }
    case Global::Unknown:
      if (a.empty()) return new_object(callable, args_node);
      break;
    case Global::TensorClass:
    case Global::StorageType:
      break;
  }
  throw FormatError(fmt::format("unsupported global '{}'", name));
}

// Protocol 2 pickles bytes as _codecs.encode(text, 'latin1'): each code point is one byte.
Node* Unpickler::latin1_bytes(const std::vector<Node*>& a) {
  expect_args(a, 2, 2, "_codecs.encode");
  if (!is_string(a[0]) || !is_string(a[1]) ||
      (a[1]->value.toStringRef() != "latin1" && a[1]->value.toStringRef() != "latin-1"))
    throw FormatError("_codecs.encode other than latin1");
  const auto& s = a[0]->value.toStringRef();
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size() && (static_cast<uint8_t>(s[i + 1]) & 0xc0) == 0x80) {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[++i]) & 0x3f)));
    } else {
      throw FormatError("_codecs.encode: text is not latin1");
    }
  }
  return value(std::move(out));
}

}  // namespace lightning::detail::unpickling
