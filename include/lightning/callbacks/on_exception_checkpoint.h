#pragma once
/// OnExceptionCheckpoint: saves a checkpoint when a run fails or is interrupted, so it can be
/// resumed (Lightning's callback of the same name).
#include "lightning/callbacks/callback.h"

#include <string>

namespace lightning {

class OnExceptionCheckpoint : public Callback {
 public:
  static constexpr const char* FILE_EXTENSION = ".ckpt";
  /// Writes `<dirpath>/<filename>.ckpt`, replacing an older one.
  explicit OnExceptionCheckpoint(std::string dirpath, std::string filename = "on_exception");
  /// The file this callback writes.
  std::string ckpt_path() const { return dirpath_ + "/" + filename_ + FILE_EXTENSION; }
  void on_exception(Trainer& trainer, LightningModule& module, const std::exception_ptr& exception) override;

 private:
  std::string dirpath_, filename_;
};

}  // namespace lightning
