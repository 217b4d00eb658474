// Our own pickler rather than TorchScript's: that one wraps containers in
// `torch.jit._pickle.restore_type_tag` / `build_intlist` calls, which Python's
// `torch.load(weights_only=True)` refuses. We emit only what Python's own `torch.save` does.
#include "checkpoint/pickle.h"
#include "lightning/checkpoint/checkpoint.h"

#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <cstring>
#include <string_view>
#include <unordered_map>

namespace lightning::detail {
namespace {

constexpr int kMaxDepth = 1000;
constexpr size_t kBatch = 1000;  // items per APPENDS/SETITEMS, as Python's pickler

const char* storage_class(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kDouble: return "DoubleStorage";
    case c10::kFloat: return "FloatStorage";
    case c10::kHalf: return "HalfStorage";
    case c10::kBFloat16: return "BFloat16Storage";
    case c10::kLong: return "LongStorage";
    case c10::kInt: return "IntStorage";
    case c10::kShort: return "ShortStorage";
    case c10::kChar: return "CharStorage";
    case c10::kByte: return "ByteStorage";
    case c10::kBool: return "BoolStorage";
    case c10::kComplexFloat: return "ComplexFloatStorage";
    case c10::kComplexDouble: return "ComplexDoubleStorage";
    default: throw FormatError(fmt::format("cannot save tensors of dtype {}", c10::toString(dtype)));
  }
}

class Pickler {
 public:
  Pickled run(const c10::IValue& obj) {
    out_.pkl = "\x80\x02";  // PROTO 2
    put(obj, 0);
    out_.pkl += '.';
    return std::move(out_);
  }

 private:
  void op(char c) { out_.pkl.push_back(c); }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) op(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void put_int(int64_t v) {
    if (v >= 0 && v < 0x100) {
      op('K');  // BININT1
      le(v, 1);
    } else if (v >= 0 && v < 0x10000) {
      op('M');  // BININT2
      le(v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');  // BININT
      le(static_cast<uint32_t>(v), 4);
    } else {  // LONG1 with the fewest two's-complement bytes
      int n = 8;
      while (n > 1) {
        int64_t shifted = v >> (8 * (n - 1) - 1);
        if (shifted != 0 && shifted != -1) break;
        --n;
      }
      op('\x8a');
      le(n, 1);
      le(static_cast<uint64_t>(v), n);
    }
  }
  void put_double(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    op('G');  // BINFLOAT, big-endian
    for (int i = 7; i >= 0; --i) op(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  void put_string(std::string_view s) {
    if (s.size() > UINT32_MAX) throw FormatError("string longer than 4 GiB");
    op('X');  // BINUNICODE
    le(s.size(), 4);
    out_.pkl.append(s);
  }
  void put_global(std::string_view module, std::string_view name) {
    op('c');
    out_.pkl.append(module).append("\n").append(name).append("\n");
  }
  void put_int_tuple(c10::IntArrayRef values) {
    op('(');
    for (auto v : values) put_int(v);
    op('t');
  }
  template <typename Items, typename PutItem>
  void put_batched(const Items& items, char batch_op, PutItem put_item) {
    size_t in_batch = 0;
    for (const auto& item : items) {
      if (in_batch == 0) op('(');
      put_item(item);
      if (++in_batch == kBatch) {
        op(batch_op);
        in_batch = 0;
      }
    }
    if (in_batch) op(batch_op);
  }

  void put(const c10::IValue& v, int depth) {
    if (depth > kMaxDepth) throw FormatError(fmt::format("data nested deeper than {} levels (recursive?)", kMaxDepth));
    if (v.isNone()) {
      op('N');
    } else if (v.isBool()) {
      op(v.toBool() ? '\x88' : '\x89');
    } else if (v.isInt()) {
      put_int(v.toInt());
    } else if (v.isDouble()) {
      put_double(v.toDouble());
    } else if (v.isString()) {
      put_string(v.toStringRef());
    } else if (v.isComplexDouble()) {
      auto c = v.toComplexDouble();
      put_global("builtins", "complex");
      put_double(c.real());
      put_double(c.imag());
      op('\x86');  // TUPLE2
      op('R');
    } else if (v.isDevice()) {
      put_string(v.toDevice().str());
    } else if (v.isTensor()) {
      put_tensor(v.toTensor());
    } else if (v.isTuple()) {
      op('(');
      for (const auto& e : v.toTupleRef().elements()) put(e, depth + 1);
      op('t');
    } else if (v.isList()) {
      op(']');
      put_batched(v.toListRef(), 'e', [&](const c10::IValue& e) { put(e, depth + 1); });
    } else if (v.isGenericDict()) {
      if (is_ordered_dict(v.toGenericDict())) {
        put_global("collections", "OrderedDict");  // OrderedDict(), then SETITEMS
        op(')');
        op('R');
      } else {
        op('}');
      }
      put_batched(v.toGenericDict(), 'u', [&](const auto& entry) {
        put(entry.key(), depth + 1);
        put(entry.value(), depth + 1);
      });
    } else {
      throw FormatError(fmt::format("cannot save a value of type {}", v.tagKind()));
    }
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())
  // with the storage as persistent id ('storage', torch.<T>Storage, key, 'cpu', numel).
  void put_tensor(const at::Tensor& tensor) {
    if (!tensor.defined()) return op('N');
    if (tensor.layout() != c10::kStrided || !tensor.has_storage())
      throw FormatError("cannot save a tensor that is not dense (sparse, MKL-DNN, nested...)");
    // Lazy conjugation/negation bits are not part of the file format: materialise them.
    const at::Tensor t = tensor.is_conj() || tensor.is_neg() ? tensor.resolve_conj().resolve_neg() : tensor;
    const auto dtype = t.scalar_type();
    const char* type_name = storage_class(dtype);
    const auto& storage = t.storage();
    const size_t itemsize = c10::elementSize(dtype);
    if (storage.nbytes() % itemsize) throw FormatError("tensor storage is not a whole number of elements");
    auto [it, fresh] = keys_.try_emplace(storage.unsafeGetStorageImpl(), out_.records.size(), dtype);
    if (!fresh && it->second.second != dtype)
      throw FormatError("tensors of different dtypes share one storage (Python's torch.save refuses this too)");
    const std::string key = std::to_string(it->second.first);
    if (fresh) {
      auto bytes = at::empty({0}, t.options().dtype(c10::kByte))
                       .set_(storage, 0, {static_cast<int64_t>(storage.nbytes())}, {1});
      out_.records.push_back({"data/" + key, bytes.is_cpu() ? bytes : bytes.cpu()});
    }
    put_global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    put_string("storage");
    put_global("torch", type_name);
    put_string(key);
    put_string("cpu");
    put_int(static_cast<int64_t>(storage.nbytes() / itemsize));
    op('t');
    op('Q');  // BINPERSID
    put_int(t.storage_offset());
    put_int_tuple(t.sizes());
    put_int_tuple(t.strides());
    op(t.requires_grad() ? '\x88' : '\x89');
    put_global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }

  Pickled out_;
  std::unordered_map<const c10::StorageImpl*, std::pair<size_t, c10::ScalarType>> keys_;
};

}  // namespace

Pickled pickle(const c10::IValue& obj) { return Pickler().run(obj); }

void write_archive(const Pickled& pickled, const std::function<void(const void*, size_t)>& sink) {
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    sink(data, n);
    return n;
  });
  writer.writeRecord("data.pkl", pickled.pkl.data(), pickled.pkl.size());
  writer.writeRecord("byteorder", "little", 6);
  for (const auto& record : pickled.records)
    writer.writeRecord(record.name, record.bytes.data_ptr(), record.bytes.nbytes());
  writer.writeEndOfFile();
}

}  // namespace lightning::detail
