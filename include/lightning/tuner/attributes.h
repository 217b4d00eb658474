#pragma once
/// Where the tuner reads and writes the batch size and the learning rate: Lightning's
/// `lightning_hasattr` / `lightning_getattr` / `lightning_setattr`, for C++ classes.
///
/// Lightning finds `batch_size` (or `lr`) as an attribute of the module (`self.batch_size`), in
/// its `hparams`, or as an attribute of the datamodule. C++ has no attributes by name, so a
/// module or datamodule that keeps the value in a member exposes it by also deriving from
/// `tuner::Attributes`:
///
///     struct Data : lightning::LightningDataModule, lightning::tuner::Attributes {
///       int64_t batch_size = 32;
///       Data() { expose("batch_size", batch_size); }
///       lightning::DataLoaders train_dataloader() override {
///         return lightning::DataLoader(dataset, {.batch_size = batch_size});
///       }
///     };
///
/// A module can instead keep it in its hyperparameters (`save_hyperparameters({{"batch_size", 32}})`)
/// and read `hparams()["batch_size"]` in its dataloader hooks.
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lightning {

class LightningModule;
class LightningDataModule;

namespace tuner {

/// Named numeric members of a module or datamodule, by reference. Override the three virtuals to
/// compute values instead of exposing members.
class Attributes {
 public:
  virtual ~Attributes() = default;
  /// Exposed members are referenced: a copy would point into the original.
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;

  virtual bool has_attribute(const std::string& name) const;
  /// The value (an int or a double); throws MisconfigurationException for an unknown name.
  virtual c10::IValue attribute(const std::string& name) const;
  /// Sets an exposed member: an int member takes ints (a double is truncated), a double member
  /// takes both. Throws MisconfigurationException for an unknown name or a non-number.
  virtual void set_attribute(const std::string& name, const c10::IValue& value);

 protected:
  Attributes() = default;
  /// `member` must live as long as this object (a member of the derived class does).
  void expose(const std::string& name, int64_t& member);
  void expose(const std::string& name, double& member);

 private:
  std::vector<std::pair<std::string, std::variant<int64_t*, double*>>> members_;
};

/// Lightning's `lightning_hasattr(model, name)`: an attribute of `model`, a key of its
/// `hparams()`, or an attribute of `datamodule` (the trainer's, when null and the module is attached).
bool lightning_hasattr(const LightningModule& model, const std::string& name,
                       const LightningDataModule* datamodule = nullptr);
/// Lightning's `lightning_getattr`: the value of the last of those holders that has `name`
/// (the datamodule's wins). Throws MisconfigurationException when none has it.
c10::IValue lightning_getattr(const LightningModule& model, const std::string& name,
                              const LightningDataModule* datamodule = nullptr);
/// Lightning's `lightning_setattr`: sets `name` in every holder that has it. Throws
/// MisconfigurationException when none has it.
void lightning_setattr(LightningModule& model, const std::string& name, const c10::IValue& value,
                       LightningDataModule* datamodule = nullptr);

}  // namespace tuner
}  // namespace lightning
