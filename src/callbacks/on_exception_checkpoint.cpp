#include "lightning/callbacks/on_exception_checkpoint.h"

#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

namespace lightning {

OnExceptionCheckpoint::OnExceptionCheckpoint(std::string dirpath, std::string filename)
    : dirpath_(std::move(dirpath)), filename_(std::move(filename)) {
  if (dirpath_.empty())
    throw MisconfigurationException("OnExceptionCheckpoint: dirpath='' is invalid; accepted: a folder path");
  if (filename_.empty() || filename_.find('/') != std::string::npos)
    throw MisconfigurationException(fmt::format(
        "OnExceptionCheckpoint: filename='{}' is invalid; accepted: a file name without '/' or extension", filename_));
}

void OnExceptionCheckpoint::on_exception(Trainer& trainer, LightningModule&, const std::exception_ptr&) {
  // Only a fit has state worth resuming.
  if (trainer.state().fn == TrainerFn::Fitting) trainer.save_checkpoint(ckpt_path());
}

}  // namespace lightning
