// Our own reader for what `torch.save` pickles. LibTorch 1.13's `torch::pickle_load` stops at
// SETITEM and at `collections.OrderedDict`, i.e. at ordinary Python checkpoints.
//
// Parsing builds a graph of `Node`s owned by one arena (so memo references, sharing and even
// cycles in hostile input cost nothing to tear down); only a successful parse is converted to
// IValues, with a depth limit and a cycle check, so the result is always a finite tree.
#include "checkpoint/pickle.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lightning::detail {
namespace {

constexpr int kMaxDepth = 1000;  // nesting of containers in the result: deeper input is hostile
constexpr size_t kMaxDims = 64;

enum class Kind : uint8_t { Value, List, Tuple, Dict, Object, Global, Storage };

// The Python globals that torch checkpoints name, by what loading them means.
enum class Global : uint8_t {
  Unknown,           // a class: instances become dicts of their state, calls with arguments fail
  DictClass,         // OrderedDict, defaultdict, Lightning's AttributeDict: a dict
  Set,               // set / frozenset: a list
  Bytes,             // builtins.bytes (protocol 2 spells b'' this way)
  CodecsEncode,      // _codecs.encode(str, 'latin1'): protocol 2's bytes
  Complex,           // builtins.complex
  TorchSize,         // a tuple
  TorchDevice,       // its string, e.g. "cuda:0"
  RebuildTensor,     // torch._utils._rebuild_tensor (before v2)
  RebuildTensorV2,
  RebuildParameter,  // nn.Parameter: the tensor with requires_grad
  RebuildParameterWithState,
  RebuildFromTypeV2, // torch._tensor._rebuild_from_type_v2(func, type, args, state)
  TensorClass,       // torch.Tensor / torch.nn.parameter.Parameter, as the type above
  RestoreTypeTag,    // TorchScript's pickler: restore_type_tag(value, type)
  BuildList,         // TorchScript's pickler: build_intlist(list) and friends
  StorageType,       // torch.FloatStorage & co: the dtype of a persistent storage
  Reconstructor,     // copyreg._reconstructor(cls, base, state) of protocols 0 and 1
};

struct Node {
  Kind kind;
  Global global = Global::Unknown;
  c10::ScalarType dtype = c10::ScalarType::Undefined;  // StorageType globals, Storage nodes
  c10::IValue value;                                    // Value nodes
  std::vector<Node*> items;  // List/Tuple elements; Dict/Object entries as key, value, key, value...
  std::vector<Node*> attrs;  // Object: instance attributes from BUILD, key, value...
  std::string name;          // Global, Object: "module.name"
  c10::Storage storage;      // Storage nodes
};

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

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const StorageLoader& load_storage)
      : begin_(reinterpret_cast<const uint8_t*>(data)),
        p_(begin_),
        end_(begin_ + size),
        load_storage_(load_storage),
        copy_budget_(size + (size_t{1} << 20)) {}

  c10::IValue run() {
    Node* root = nullptr;
    const uint8_t* op_at = p_;
    try {
      while (!root) {
        op_at = p_;
        root = step();
      }
    } catch (const FormatError& e) {
      throw FormatError(fmt::format("{} (data.pkl byte {})", e.what(), op_at - begin_));
    }
    return to_ivalue(root, 0);
  }

 private:
  // ---- input ----
  const uint8_t* take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) throw FormatError("truncated pickle data");
    auto at = p_;
    p_ += n;
    return at;
  }
  uint64_t le(size_t n) {
    auto b = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    return v;
  }
  std::string_view line() {
    auto nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', end_ - p_));
    if (!nl) throw FormatError("truncated pickle data");
    std::string_view s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }
  std::string chars(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) throw FormatError("truncated pickle data");
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }
  // LONG1/LONG4: little-endian two's complement of n bytes.
  int64_t long_int(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) throw FormatError("truncated pickle data");
    auto b = take(n);
    if (n == 0) return 0;
    bool negative = b[n - 1] & 0x80;
    for (size_t i = 8; i < n; ++i)
      if (b[i] != (negative ? 0xff : 0x00)) throw FormatError("integer does not fit in 64 bits");
    if (n > 8 && static_cast<bool>(b[7] & 0x80) != negative) throw FormatError("integer does not fit in 64 bits");
    uint64_t v = negative ? ~uint64_t{0} : 0;
    for (size_t i = 0; i < std::min<uint64_t>(n, 8); ++i) {
      v &= ~(uint64_t{0xff} << (8 * i));
      v |= static_cast<uint64_t>(b[i]) << (8 * i);
    }
    return static_cast<int64_t>(v);
  }

  // ---- nodes and stack ----
  Node* make(Kind kind) { return &arena_.emplace_back(Node{kind}); }
  Node* value(c10::IValue v) {
    auto n = make(Kind::Value);
    n->value = std::move(v);
    return n;
  }
  // Lists of small numbers are common (optimizer `params`): share their nodes.
  Node* integer(int64_t v) {
    if (v < 0 || v >= static_cast<int64_t>(small_ints_.size())) return value(v);
    auto& n = small_ints_[v];
    if (!n) n = value(v);
    return n;
  }
  Node* constant(Node*& cache, c10::IValue v) {
    if (!cache) cache = value(std::move(v));
    return cache;
  }
  Node* container(Kind kind, std::vector<Node*> items) {
    auto n = make(kind);
    n->items = std::move(items);
    return n;
  }
  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  Node* pop() {
    if (stack_.size() <= fence()) throw FormatError("pickle stack underflow");
    auto n = stack_.back();
    stack_.pop_back();
    return n;
  }
  Node* top() {
    if (stack_.size() <= fence()) throw FormatError("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Node*> pop_mark() {
    if (marks_.empty()) throw FormatError("pickle MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Node*> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  Node* memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) throw FormatError(fmt::format("pickle memo entry {} missing", key));
    return it->second;
  }

  // Opcodes that copy elements of existing containers could, through the memo, turn a small
  // input into quadratic work; ordinary checkpoints copy almost nothing.
  void charge_copy(size_t n) {
    if (n > copy_budget_) throw FormatError("pickle data expands far beyond its size");
    copy_budget_ -= n;
  }

  static void append(Node* target, const std::vector<Node*>& items) {
    if (target->kind != Kind::List) throw FormatError("APPEND to something that is not a list");
    target->items.insert(target->items.end(), items.begin(), items.end());
  }
  static void set_items(Node* target, const std::vector<Node*>& kv) {
    if (target->kind != Kind::Dict && target->kind != Kind::Object)
      throw FormatError("SETITEM on something that is not a dict");
    if (kv.size() % 2) throw FormatError("SETITEMS with an odd number of items");
    target->items.insert(target->items.end(), kv.begin(), kv.end());
  }

  // ---- one opcode; returns the result at STOP ----
  Node* step() {
    const uint8_t op = *take(1);
    switch (op) {
      case 0x80: {  // PROTO
        auto v = *take(1);
        if (v > 5) throw FormatError(fmt::format("unsupported pickle protocol {}", v));
        break;
      }
      case 0x95: take(8); break;  // FRAME: a length hint only
      case '.': return pop();     // STOP
      case 'N': stack_.push_back(constant(none_, c10::IValue())); break;
      case 0x88: stack_.push_back(constant(true_, true)); break;
      case 0x89: stack_.push_back(constant(false_, false)); break;
      case 'K': stack_.push_back(integer(le(1))); break;
      case 'M': stack_.push_back(integer(le(2))); break;
      case 'J': stack_.push_back(integer(static_cast<int32_t>(le(4)))); break;
      case 0x8a: stack_.push_back(integer(long_int(le(1)))); break;  // LONG1
      case 0x8b: stack_.push_back(integer(long_int(le(4)))); break;  // LONG4
      case 'G': {  // BINFLOAT, big-endian
        auto b = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
        double d;
        std::memcpy(&d, &bits, sizeof d);
        stack_.push_back(value(d));
        break;
      }
      // Strings and bytes alike become IValue strings (IValue has no bytes type).
      case 'X': case 'T': case 'B': stack_.push_back(value(chars(le(4)))); break;
      case 0x8c: case 'U': case 'C': stack_.push_back(value(chars(le(1)))); break;
      case 0x8d: case 0x8e: case 0x96: stack_.push_back(value(chars(le(8)))); break;
      case ']': stack_.push_back(make(Kind::List)); break;
      case ')': stack_.push_back(make(Kind::Tuple)); break;
      case '}': stack_.push_back(make(Kind::Dict)); break;
      case 0x8f: stack_.push_back(make(Kind::List)); break;  // EMPTY_SET: sets load as lists
      case 0x90: {                                           // ADDITEMS
        auto items = pop_mark();
        append(top(), items);
        break;
      }
      case 0x91: stack_.push_back(container(Kind::List, pop_mark())); break;  // FROZENSET
      case '(': marks_.push_back(stack_.size()); break;
      case 't': stack_.push_back(container(Kind::Tuple, pop_mark())); break;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        std::vector<Node*> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        stack_.push_back(container(Kind::Tuple, std::move(items)));
        break;
      }
      case 'l': stack_.push_back(container(Kind::List, pop_mark())); break;
      case 'd': {
        auto n = make(Kind::Dict);
        set_items(n, pop_mark());
        stack_.push_back(n);
        break;
      }
      case 'a': {
        auto v = pop();
        append(top(), {v});
        break;
      }
      case 'e': {
        auto items = pop_mark();
        append(top(), items);
        break;
      }
      case 's': {
        auto v = pop();
        auto k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case '0':  // POP: an empty frame means "pop the mark"
        if (stack_.size() > fence()) stack_.pop_back();
        else pop_mark();
        break;
      case '1': pop_mark(); break;
      case '2': stack_.push_back(top()); break;
      case 'q': memo_[le(1)] = top(); break;
      case 'r': memo_[le(4)] = top(); break;
      case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
      case 'h': stack_.push_back(memo_get(le(1))); break;
      case 'j': stack_.push_back(memo_get(le(4))); break;
      case 'c': {  // GLOBAL
        std::string module(line());
        std::string name(line());
        stack_.push_back(global(std::move(module), std::move(name)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (!is_string(module) || !is_string(name)) throw FormatError("STACK_GLOBAL needs two strings");
        stack_.push_back(global(module->value.toStringRef(), name->value.toStringRef()));
        break;
      }
      case 'R': {  // REDUCE
        auto args = pop();
        auto callable = pop();
        stack_.push_back(call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        auto args = pop();
        auto cls = pop();
        stack_.push_back(new_object(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        auto kwargs = pop();
        auto args = pop();
        auto cls = pop();
        if (kwargs->kind != Kind::Dict || !kwargs->items.empty())
          throw FormatError(fmt::format("cannot create '{}' with keyword arguments", cls->name));
        stack_.push_back(new_object(cls, args));
        break;
      }
      case 'b': {  // BUILD
        auto state = pop();
        build(top(), state);
        break;
      }
      case 'Q': {  // BINPERSID
        auto pid = pop();
        stack_.push_back(persistent_load(pid));
        break;
      }
      default:
        throw FormatError(fmt::format("unsupported pickle opcode 0x{:02x}", op));
    }
    return nullptr;
  }

  static bool is_string(const Node* n) { return n->kind == Kind::Value && n->value.isString(); }
  static int64_t as_int(const Node* n, const char* what) {
    if (n->kind == Kind::Value && n->value.isInt()) return n->value.toInt();
    if (n->kind == Kind::Value && n->value.isBool()) return n->value.toBool();
    throw FormatError(fmt::format("{} is not an integer", what));
  }
  static std::vector<int64_t> int_list(const Node* n, const char* what) {
    if (n->kind != Kind::Tuple && n->kind != Kind::List) throw FormatError(fmt::format("{} is not a tuple", what));
    if (n->items.size() > kMaxDims) throw FormatError(fmt::format("{} has more than {} entries", what, kMaxDims));
    std::vector<int64_t> out;
    for (auto item : n->items) out.push_back(as_int(item, what));
    return out;
  }
  static const std::vector<Node*>& tuple_items(const Node* args, const std::string& callee) {
    if (args->kind != Kind::Tuple) throw FormatError(fmt::format("arguments of '{}' are not a tuple", callee));
    return args->items;
  }
  static void expect_args(const std::vector<Node*>& a, size_t lo, size_t hi, const std::string& callee) {
    if (a.size() < lo || a.size() > hi)
      throw FormatError(fmt::format("'{}' called with {} arguments", callee, a.size()));
  }

  Node* global(std::string module, std::string name) {
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

  Node* new_object(Node* cls, Node* args) {
    if (cls->kind != Kind::Global) throw FormatError("NEWOBJ of something that is not a class");
    if (cls->global == Global::DictClass) return make(Kind::Dict);
    if (cls->global != Global::Unknown || !tuple_items(args, cls->name).empty())
      throw FormatError(fmt::format("unsupported global '{}'", cls->name));
    auto n = make(Kind::Object);
    n->name = cls->name;
    return n;
  }

  void build(Node* target, Node* state) {
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

  Node* persistent_load(Node* pid) {
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
  Node* rebuild_tensor(const std::vector<Node*>& a, bool requires_grad) {
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

  static bool is_true(const Node* n) { return n->kind == Kind::Value && n->value.isBool() && n->value.toBool(); }
  static bool is_empty_state(const Node* n) {
    return (n->kind == Kind::Value && n->value.isNone()) || (n->kind == Kind::Dict && n->items.empty());
  }
  static Node* tensor_arg(Node* n, const std::string& callee) {
    if (n->kind != Kind::Value || !n->value.isTensor()) throw FormatError(fmt::format("'{}' without a tensor", callee));
    return n;
  }

  Node* call(Node* callable, Node* args_node) {
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
  Node* latin1_bytes(const std::vector<Node*>& a) {
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

  // ---- the result ----
  c10::IValue to_ivalue(Node* n, int depth) {
    if (depth > kMaxDepth) throw FormatError(fmt::format("data nested deeper than {} levels", kMaxDepth));
    switch (n->kind) {
      case Kind::Value: return n->value;
      case Kind::Global: return n->name;  // a class or function as a value (torch.float32 in hparams)
      case Kind::Storage: throw FormatError("a storage outside a tensor is not supported");
      default: break;
    }
    if (auto it = converted_.find(n); it != converted_.end()) return it->second;
    if (!converting_.insert(n).second) throw FormatError("recursive data (a container inside itself)");
    c10::IValue out;
    if (n->kind == Kind::List) {
      c10::impl::GenericList list(c10::AnyType::get());
      list.reserve(n->items.size());
      for (auto item : n->items) list.push_back(to_ivalue(item, depth + 1));
      out = std::move(list);
    } else if (n->kind == Kind::Tuple) {
      std::vector<c10::IValue> elements;
      elements.reserve(n->items.size());
      for (auto item : n->items) elements.push_back(to_ivalue(item, depth + 1));
      out = c10::ivalue::Tuple::create(std::move(elements));
    } else {
      // An instance of a plain class holds its state in attributes; a dict subclass in items.
      const auto& kv = n->kind == Kind::Object && n->items.empty() ? n->attrs : n->items;
      out = to_dict(kv, depth);
    }
    converting_.erase(n);
    converted_.emplace(n, out);
    return out;
  }

  c10::IValue to_dict(const std::vector<Node*>& kv, int depth) {
    std::vector<c10::IValue> keys;
    bool all_strings = true, all_ints = true;
    for (size_t i = 0; i < kv.size(); i += 2) {
      auto key = to_ivalue(kv[i], depth + 1);
      if (!key.isString() && !key.isInt() && !key.isBool() && !key.isDouble())
        throw FormatError(fmt::format("unsupported dict key of type {}", key.tagKind()));
      all_strings = all_strings && key.isString();
      all_ints = all_ints && key.isInt();
      keys.push_back(std::move(key));
    }
    c10::TypePtr key_type = all_strings ? c10::TypePtr(c10::StringType::get())
                            : all_ints  ? c10::TypePtr(c10::IntType::get())
                                        : c10::TypePtr(c10::AnyType::get());
    c10::impl::GenericDict dict(key_type, c10::AnyType::get());
    dict.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) dict.insert_or_assign(std::move(keys[i]), to_ivalue(kv[2 * i + 1], depth + 1));
    return dict;
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  const StorageLoader& load_storage_;
  size_t copy_budget_;  // elements that may still be copied out of existing containers
  std::deque<Node> arena_;
  std::vector<Node*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Node*> memo_;
  std::unordered_map<std::string, Node*> storages_;
  Node* none_ = nullptr;
  Node* true_ = nullptr;
  Node* false_ = nullptr;
  std::array<Node*, 256> small_ints_{};
  std::unordered_map<const Node*, c10::IValue> converted_;
  std::unordered_set<const Node*> converting_;
};

}  // namespace

c10::IValue unpickle(const char* data, size_t size, const StorageLoader& load_storage) {
  return Unpickler(data, size, load_storage).run();
}

}  // namespace lightning::detail
