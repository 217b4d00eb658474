#pragma once
// The pickle side of `torch.save` files: what goes into `data.pkl` and the storage records.
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Storage.h>

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lightning::detail {

/// A problem with the content of a checkpoint; the caller adds the path.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Returns the bytes of the storage record `data/<key>`, which must hold exactly `nbytes`.
using StorageLoader = std::function<c10::Storage(const std::string& key, size_t nbytes)>;

/// Unpickles `data.pkl` (protocols 2 to 5, the subset `torch.save` emits). Storages referenced
/// by persistent ids come from `load_storage`, once per key, so tensors that share a storage in
/// the file share memory after loading.
c10::IValue unpickle(const char* data, size_t size, const StorageLoader& load_storage);

/// `obj` pickled (protocol 2, as Python's default) plus the storages it references, which
/// are not copied (except from non-CPU devices).
struct Pickled {
  std::string pkl;
  struct Record {
    std::string name;  // "data/<key>"
    at::Tensor bytes;  // the whole storage as a CPU uint8 tensor
  };
  std::vector<Record> records;
};
Pickled pickle(const c10::IValue& obj);

/// Writes the zip archive of `torch.save` through `sink`, which receives consecutive chunks
/// and must not throw (it runs inside miniz).
void write_archive(const Pickled& pickled, const std::function<void(const void*, size_t)>& sink);

}  // namespace lightning::detail
