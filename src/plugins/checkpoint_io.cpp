#include "lightning/plugins/checkpoint_io.h"

#include "lightning/checkpoint/serialization.h"
#include "lightning/utilities/errors.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/CPUAllocator.h>
#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace lightning::plugins {

void TorchCheckpointIO::save_checkpoint(const c10::IValue& checkpoint, const std::string& path) {
  torch_save(checkpoint, path);
}

c10::IValue TorchCheckpointIO::load_checkpoint(const std::string& path) { return torch_load(path); }

void TorchCheckpointIO::remove_checkpoint(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw CheckpointError(fmt::format("cannot remove checkpoint '{}': {}", path, std::strerror(errno)));
}

namespace {

// The training thread waits for this copy: large ones are split across cores.
void parallel_copy(void* dst, const void* src, size_t n) {
  constexpr size_t kChunk = size_t{32} << 20;
  const size_t threads = std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 8, n / kChunk + 1});
  const size_t part = (n + threads - 1) / threads;
  auto copy = [&](size_t i) {
    const size_t begin = i * part, end = std::min(n, begin + part);
    if (begin < end) std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin, end - begin);
  };
  std::vector<std::thread> helpers;
  for (size_t i = 1; i < threads; ++i) helpers.emplace_back(copy, i);
  copy(0);
  for (auto& helper : helpers) helper.join();
}

// Storages of a finished snapshot, by size, reused by the next one: copying into memory that
// is already mapped is several times faster than into fresh pages.
using SpareBuffers = std::unordered_multimap<size_t, c10::Storage>;

// A deep copy that training cannot change any more: containers are rebuilt and every storage
// is copied once, with each tensor re-created as the same view of its copy (so shared
// storages and views stay shared in the file, as in the original).
class Snapshot {
 public:
  explicit Snapshot(SpareBuffers spare) : spare_(std::move(spare)) {}

  c10::IValue copy(const c10::IValue& v) {
    if (v.isTensor()) return copy_tensor(v.toTensor());
    if (v.isTuple()) {
      std::vector<c10::IValue> elements;
      for (const auto& e : v.toTupleRef().elements()) elements.push_back(copy(e));
      return c10::ivalue::Tuple::create(std::move(elements));
    }
    if (v.isList()) {
      c10::impl::GenericList list(v.toList().elementType());
      list.reserve(v.toListRef().size());
      for (const auto& e : v.toListRef()) list.push_back(copy(e));
      return list;
    }
    if (v.isGenericDict()) {
      auto dict = v.toGenericDict();
      c10::impl::GenericDict out(dict.keyType(), dict.valueType());
      out.reserve(dict.size());
      for (const auto& entry : dict) out.insert(entry.key(), copy(entry.value()));
      return out;
    }
    return v;  // immutable: None, numbers, strings, devices
  }

  /// The copies, to be reused once the snapshot is saved.
  std::vector<c10::Storage> buffers() const {
    std::vector<c10::Storage> out;
    for (const auto& [impl, storage] : copies_)
      if (storage.device().is_cpu()) out.push_back(storage);
    return out;
  }

 private:
  at::Tensor copy_tensor(const at::Tensor& t) {
    if (!t.defined()) return t;
    if (t.layout() != c10::kStrided || !t.has_storage()) return t.clone();
    // A view re-created below would drop lazy conjugation/negation: materialise (a new tensor).
    if (t.is_conj() || t.is_neg()) return t.resolve_conj().resolve_neg();
    const auto& storage = t.storage();
    auto [it, fresh] = copies_.try_emplace(storage.unsafeGetStorageImpl());
    if (fresh) {
      const size_t nbytes = storage.nbytes();
      if (!t.is_cpu()) {
        auto bytes = at::empty({0}, t.options().dtype(c10::kByte)).set_(storage, 0, {static_cast<int64_t>(nbytes)}, {1});
        it->second = bytes.clone().storage();
      } else {
        auto spare = spare_.find(nbytes);
        if (spare != spare_.end()) {
          it->second = std::move(spare->second);
          spare_.erase(spare);
        } else {
          auto* allocator = c10::GetCPUAllocator();
          it->second = c10::Storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(nbytes),
                                    allocator->allocate(nbytes), allocator, false);
        }
        if (nbytes) parallel_copy(it->second.data_ptr().get(), storage.data_ptr().get(), nbytes);
      }
    }
    auto view = at::empty({0}, t.options()).set_(it->second, t.storage_offset(), t.sizes(), t.strides());
    if (t.requires_grad()) view.requires_grad_(true);
    return view;
  }

  SpareBuffers spare_;
  std::unordered_map<const c10::StorageImpl*, c10::Storage> copies_;
};

}  // namespace

// One worker thread takes saves in order. Errors queue up and each later call rethrows the
// oldest one, so none is lost.
struct AsyncCheckpointIO::Impl {
  struct Job {
    c10::IValue checkpoint;
    std::string path;
    std::vector<c10::Storage> buffers;
  };
  std::shared_ptr<CheckpointIO> inner;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Job> queue;
  SpareBuffers spare;
  bool busy = false;
  bool stopping = false;
  std::deque<std::exception_ptr> errors;
  std::thread worker;

  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every save done
      auto job = std::move(queue.front());
      queue.pop_front();
      busy = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        inner->save_checkpoint(job.checkpoint, job.path);
      } catch (...) {
        error = std::current_exception();
      }
      job.checkpoint = c10::IValue();
      lock.lock();
      busy = false;
      if (error) errors.push_back(error);
      // Only buffers nobody else holds (the inner plugin might keep tensors) are reused.
      spare.clear();
      for (auto& buffer : job.buffers)
        if (buffer.use_count() == 1) spare.emplace(buffer.nbytes(), std::move(buffer));
      changed.notify_all();
    }
  }

  void rethrow_error(std::unique_lock<std::mutex>& lock) {
    if (errors.empty()) return;
    auto error = errors.front();
    errors.pop_front();
    lock.unlock();
    std::rethrow_exception(error);
  }
  // Waits for pending saves; `release` also frees the buffers kept for the next snapshot.
  void wait(bool release) {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return queue.empty() && !busy; });
    if (release) spare.clear();
    rethrow_error(lock);
  }
};

AsyncCheckpointIO::AsyncCheckpointIO(std::shared_ptr<CheckpointIO> checkpoint_io) : impl_(std::make_unique<Impl>()) {
  impl_->inner = checkpoint_io ? std::move(checkpoint_io) : std::make_shared<TorchCheckpointIO>();
  impl_->worker = std::thread([impl = impl_.get()] { impl->run(); });
}

AsyncCheckpointIO::~AsyncCheckpointIO() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  impl_->worker.join();
  // A destructor cannot throw: say what nobody collected.
  for (const auto& error : impl_->errors) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "AsyncCheckpointIO: a background save failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "AsyncCheckpointIO: a background save failed\n");
    }
  }
}

void AsyncCheckpointIO::save_checkpoint(const c10::IValue& checkpoint, const std::string& path) {
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    impl_->rethrow_error(lock);
  }
  SpareBuffers spare;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    spare = std::move(impl_->spare);
    impl_->spare.clear();
  }
  Snapshot snapshot(std::move(spare));
  auto copy = snapshot.copy(checkpoint);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->queue.push_back({std::move(copy), path, snapshot.buffers()});
  }
  impl_->changed.notify_all();
}

c10::IValue AsyncCheckpointIO::load_checkpoint(const std::string& path) {
  impl_->wait(false);
  return impl_->inner->load_checkpoint(path);
}

void AsyncCheckpointIO::remove_checkpoint(const std::string& path) {
  impl_->wait(false);
  impl_->inner->remove_checkpoint(path);
}

void AsyncCheckpointIO::teardown() { impl_->wait(true); }

}  // namespace lightning::plugins
