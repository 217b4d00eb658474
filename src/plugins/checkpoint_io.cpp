// Placeholder: synchronous saves until AsyncCheckpointIO's thread lands.
#include "lightning/plugins/checkpoint_io.h"

#include "lightning/checkpoint/serialization.h"

#include <unistd.h>

namespace lightning::plugins {

void TorchCheckpointIO::save_checkpoint(const c10::IValue& checkpoint, const std::string& path) {
  torch_save(checkpoint, path);
}
c10::IValue TorchCheckpointIO::load_checkpoint(const std::string& path) { return torch_load(path); }
void TorchCheckpointIO::remove_checkpoint(const std::string& path) { ::unlink(path.c_str()); }

struct AsyncCheckpointIO::Impl {
  std::shared_ptr<CheckpointIO> inner;
};
AsyncCheckpointIO::AsyncCheckpointIO(std::shared_ptr<CheckpointIO> checkpoint_io)
    : impl_(std::make_unique<Impl>(Impl{checkpoint_io ? checkpoint_io : std::make_shared<TorchCheckpointIO>()})) {}
AsyncCheckpointIO::~AsyncCheckpointIO() = default;
void AsyncCheckpointIO::save_checkpoint(const c10::IValue& c, const std::string& p) { impl_->inner->save_checkpoint(c, p); }
c10::IValue AsyncCheckpointIO::load_checkpoint(const std::string& p) { return impl_->inner->load_checkpoint(p); }
void AsyncCheckpointIO::remove_checkpoint(const std::string& p) { impl_->inner->remove_checkpoint(p); }
void AsyncCheckpointIO::teardown() {}

}  // namespace lightning::plugins
