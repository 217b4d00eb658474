// Our own reader for what `torch.save` pickles. LibTorch 1.13's `torch::pickle_load` stops at
// SETITEM and at `collections.OrderedDict`, i.e. at ordinary Python checkpoints.
//
// Parsing builds a graph of `Node`s owned by one arena (so memo references, sharing and even
// cycles in hostile input cost nothing to tear down); only a successful parse is converted to
// IValues, with a depth limit and a cycle check, so the result is always a finite tree.
//
// This file is the opcode machine (input, stack, marks, memo, and the conversion of the result);
// what the globals it meets mean, persistent storages and tensors: unpickler_objects.cpp.
#include "checkpoint/unpickler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lightning::detail {
namespace unpickling {
namespace {

constexpr int kMaxDepth = 1000;  // nesting of containers in the result: deeper input is hostile

}  // namespace

Unpickler::Unpickler(const char* data, size_t size, const StorageLoader& load_storage)
    : begin_(reinterpret_cast<const uint8_t*>(data)),
      p_(begin_),
      end_(begin_ + size),
      load_storage_(load_storage),
      copy_budget_(size + (size_t{1} << 20)) {}

c10::IValue Unpickler::run() {
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

// ---- input ----
const uint8_t* Unpickler::take(size_t n) {
  if (static_cast<size_t>(end_ - p_) < n) throw FormatError("truncated pickle data");
  auto at = p_;
  p_ += n;
  return at;
}
uint64_t Unpickler::le(size_t n) {
  auto b = take(n);
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
  return v;
}
std::string_view Unpickler::line() {
  auto nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', end_ - p_));
  if (!nl) throw FormatError("truncated pickle data");
  std::string_view s(reinterpret_cast<const char*>(p_), nl - p_);
  p_ = nl + 1;
  return s;
}
std::string Unpickler::chars(uint64_t n) {
  if (n > static_cast<uint64_t>(end_ - p_)) throw FormatError("truncated pickle data");
  return std::string(reinterpret_cast<const char*>(take(n)), n);
}
// LONG1/LONG4: little-endian two's complement of n bytes.
int64_t Unpickler::long_int(uint64_t n) {
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
Node* Unpickler::make(Kind kind) { return &arena_.emplace_back(Node{kind}); }
Node* Unpickler::value(c10::IValue v) {
  auto n = make(Kind::Value);
  n->value = std::move(v);
  return n;
}
// Lists of small numbers are common (optimizer `params`): share their nodes.
Node* Unpickler::integer(int64_t v) {
  if (v < 0 || v >= static_cast<int64_t>(small_ints_.size())) return value(v);
  auto& n = small_ints_[v];
  if (!n) n = value(v);
  return n;
}
Node* Unpickler::constant(Node*& cache, c10::IValue v) {
  if (!cache) cache = value(std::move(v));
  return cache;
}
Node* Unpickler::container(Kind kind, std::vector<Node*> items) {
  auto n = make(kind);
  n->items = std::move(items);
  return n;
}
size_t Unpickler::fence() const { return marks_.empty() ? 0 : marks_.back(); }
Node* Unpickler::pop() {
  if (stack_.size() <= fence()) throw FormatError("pickle stack underflow");
  auto n = stack_.back();
  stack_.pop_back();
  return n;
}
Node* Unpickler::top() {
  if (stack_.size() <= fence()) throw FormatError("pickle stack underflow");
  return stack_.back();
}
std::vector<Node*> Unpickler::pop_mark() {
  if (marks_.empty()) throw FormatError("pickle MARK missing");
  size_t m = marks_.back();
  marks_.pop_back();
  std::vector<Node*> items(stack_.begin() + m, stack_.end());
  stack_.resize(m);
  return items;
}
Node* Unpickler::memo_get(uint64_t key) {
  auto it = memo_.find(key);
  if (it == memo_.end()) throw FormatError(fmt::format("pickle memo entry {} missing", key));
  return it->second;
}

// Opcodes that copy elements of existing containers could, through the memo, turn a small
// input into quadratic work; ordinary checkpoints copy almost nothing.
void Unpickler::charge_copy(size_t n) {
  if (n > copy_budget_) throw FormatError("pickle data expands far beyond its size");
  copy_budget_ -= n;
}

void Unpickler::append(Node* target, const std::vector<Node*>& items) {
  if (target->kind != Kind::List) throw FormatError("APPEND to something that is not a list");
  target->items.insert(target->items.end(), items.begin(), items.end());
}
void Unpickler::set_items(Node* target, const std::vector<Node*>& kv) {
  if (target->kind != Kind::Dict && target->kind != Kind::Object)
    throw FormatError("SETITEM on something that is not a dict");
  if (kv.size() % 2) throw FormatError("SETITEMS with an odd number of items");
  target->items.insert(target->items.end(), kv.begin(), kv.end());
}

// ---- one opcode; returns the result at STOP ----
Node* Unpickler::step() {
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

// ---- the result ----
c10::IValue Unpickler::to_ivalue(Node* n, int depth) {
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

c10::IValue Unpickler::to_dict(const std::vector<Node*>& kv, int depth) {
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

}  // namespace unpickling

c10::IValue unpickle(const char* data, size_t size, const StorageLoader& load_storage) {
  return unpickling::Unpickler(data, size, load_storage).run();
}

}  // namespace lightning::detail
