#include "lightning/plugins/checkpoint_io.h"

#include "lightning/checkpoint/serialization.h"
#include "lightning/utilities/errors.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
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

// A deep copy that training cannot change any more: containers are rebuilt and every storage
// is copied once, with each tensor re-created as the same view of its copy (so shared
// storages and views stay shared in the file, as in the original).
class Snapshot {
 public:
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

 private:
  at::Tensor copy_tensor(const at::Tensor& t) {
    if (!t.defined() || t.layout() != c10::kStrided || !t.has_storage()) return t.defined() ? t.clone() : t;
    const auto& storage = t.storage();
    auto [it, fresh] = copies_.try_emplace(storage.unsafeGetStorageImpl());
    if (fresh) {
      auto bytes = at::empty({0}, t.options().dtype(c10::kByte))
                       .set_(storage, 0, {static_cast<int64_t>(storage.nbytes())}, {1});
      it->second = bytes.clone().storage();
    }
    auto view = at::empty({0}, t.options()).set_(it->second, t.storage_offset(), t.sizes(), t.strides());
    if (t.requires_grad()) view.requires_grad_(true);
    return view;
  }

  std::unordered_map<const c10::StorageImpl*, c10::Storage> copies_;
};

}  // namespace

// One worker thread takes saves in order. Errors queue up and each later call rethrows the
// oldest one, so none is lost.
struct AsyncCheckpointIO::Impl {
  std::shared_ptr<CheckpointIO> inner;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<c10::IValue, std::string>> queue;
  bool busy = false;
  bool stopping = false;
  std::deque<std::exception_ptr> errors;
  std::thread worker;

  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every save done
      auto [checkpoint, path] = std::move(queue.front());
      queue.pop_front();
      busy = true;
      lock.unlock();
      std::exception_ptr error;
      try {
        inner->save_checkpoint(checkpoint, path);
      } catch (...) {
        error = std::current_exception();
      }
      checkpoint = c10::IValue();  // free the snapshot before taking the next one
      lock.lock();
      busy = false;
      if (error) errors.push_back(error);
      changed.notify_all();
    }
  }

  void wait_idle(std::unique_lock<std::mutex>& lock) {
    changed.wait(lock, [&] { return queue.empty() && !busy; });
  }
  void rethrow_error(std::unique_lock<std::mutex>& lock) {
    if (errors.empty()) return;
    auto error = errors.front();
    errors.pop_front();
    lock.unlock();
    std::rethrow_exception(error);
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
  auto snapshot = Snapshot().copy(checkpoint);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->queue.emplace_back(std::move(snapshot), path);
  }
  impl_->changed.notify_all();
}

c10::IValue AsyncCheckpointIO::load_checkpoint(const std::string& path) {
  teardown();
  return impl_->inner->load_checkpoint(path);
}

void AsyncCheckpointIO::remove_checkpoint(const std::string& path) {
  teardown();
  impl_->inner->remove_checkpoint(path);
}

void AsyncCheckpointIO::teardown() {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->wait_idle(lock);
  impl_->rethrow_error(lock);
}

}  // namespace lightning::plugins
