#pragma once
// The unpickler behind `unpickle` (pickle.h), split in two sources: the opcode machine
// (unpickler.cpp: input, stack, memo, conversion of the result) and the Python and torch
// objects it reconstructs (unpickler_objects.cpp: globals, BUILD, persistent storages, tensors).
#include "checkpoint/pickle.h"

#include <c10/core/ScalarType.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lightning::detail::unpickling {

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

/// One parse of `data.pkl` into `Node`s and, at STOP, into IValues.
class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const StorageLoader& load_storage);

  c10::IValue run();

 private:
  // ---- input (unpickler.cpp) ----
  const uint8_t* take(size_t n);
  uint64_t le(size_t n);
  std::string_view line();
  std::string chars(uint64_t n);
  int64_t long_int(uint64_t n);

  // ---- nodes and stack (unpickler.cpp) ----
  Node* make(Kind kind);
  Node* value(c10::IValue v);
  Node* integer(int64_t v);
  Node* constant(Node*& cache, c10::IValue v);
  Node* container(Kind kind, std::vector<Node*> items);
  size_t fence() const;
  Node* pop();
  Node* top();
  std::vector<Node*> pop_mark();
  Node* memo_get(uint64_t key);
  void charge_copy(size_t n);
  static void append(Node* target, const std::vector<Node*>& items);
  static void set_items(Node* target, const std::vector<Node*>& kv);

  // ---- one opcode; returns the result at STOP (unpickler.cpp) ----
  Node* step();

  // ---- globals, objects, storages and tensors (unpickler_objects.cpp) ----
  static bool is_string(const Node* n);
  static int64_t as_int(const Node* n, const char* what);
  static std::vector<int64_t> int_list(const Node* n, const char* what);
  static const std::vector<Node*>& tuple_items(const Node* args, const std::string& callee);
  static void expect_args(const std::vector<Node*>& a, size_t lo, size_t hi, const std::string& callee);
  Node* global(std::string module, std::string name);
  Node* new_object(Node* cls, Node* args);
  void build(Node* target, Node* state);
  Node* persistent_load(Node* pid);
  Node* rebuild_tensor(const std::vector<Node*>& a, bool requires_grad);
  static bool is_true(const Node* n);
  static bool is_empty_state(const Node* n);
  static Node* tensor_arg(Node* n, const std::string& callee);
  Node* call(Node* callable, Node* args_node);
  Node* latin1_bytes(const std::vector<Node*>& a);

  // ---- the result (unpickler.cpp) ----
  c10::IValue to_ivalue(Node* n, int depth);
  c10::IValue to_dict(const std::vector<Node*>& kv, int depth);

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

}  // namespace lightning::detail::unpickling
