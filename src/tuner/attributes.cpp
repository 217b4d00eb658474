#include "lightning/tuner/attributes.h"

#include "lightning/core/datamodule.h"
#include "lightning/core/module.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <algorithm>

namespace lightning::tuner {

namespace {

constexpr const char* kAccepted =
    "accepted: a hyperparameter of the module (save_hyperparameters), or a member the module or datamodule exposes "
    "by deriving from lightning::tuner::Attributes";

}  // namespace

bool Attributes::has_attribute(const std::string& name) const {
  return std::any_of(members_.begin(), members_.end(), [&](const auto& m) { return m.first == name; });
}

c10::IValue Attributes::attribute(const std::string& name) const {
  for (const auto& [key, member] : members_)
    if (key == name)
      return std::visit([](auto* p) { return c10::IValue(*p); }, member);
  throw MisconfigurationException(fmt::format("attribute '{}' is not exposed; {}", name, kAccepted));
}

void Attributes::set_attribute(const std::string& name, const c10::IValue& value) {
  if (!value.isInt() && !value.isDouble())
    throw MisconfigurationException(
        fmt::format("attribute '{}' = a {} is invalid; accepted: an int or a double", name, value.tagKind()));
  for (auto& [key, member] : members_) {
    if (key != name) continue;
    if (auto** i = std::get_if<int64_t*>(&member))
      **i = value.isInt() ? value.toInt() : static_cast<int64_t>(value.toDouble());
    else
      *std::get<double*>(member) = value.isInt() ? static_cast<double>(value.toInt()) : value.toDouble();
    return;
  }
  throw MisconfigurationException(fmt::format("attribute '{}' is not exposed; {}", name, kAccepted));
}

void Attributes::expose(const std::string& name, int64_t& member) { members_.emplace_back(name, &member); }
void Attributes::expose(const std::string& name, double& member) { members_.emplace_back(name, &member); }

namespace {

/// Lightning's `_lightning_get_all_attr_holders`, in its order: the module's attribute, its
/// hparams, the datamodule's attribute.
struct Holders {
  Attributes* module_attribute = nullptr;
  bool in_hparams = false;
  Attributes* datamodule_attribute = nullptr;
  bool empty() const { return !module_attribute && !in_hparams && !datamodule_attribute; }
};

const LightningDataModule* datamodule_of(const LightningModule& model, const LightningDataModule* given) {
  if (given) return given;
  return model.has_trainer() ? model.trainer().datamodule().get() : nullptr;
}

Holders holders(const LightningModule& model, const std::string& name, const LightningDataModule* given) {
  Holders h;
  auto* own = dynamic_cast<Attributes*>(const_cast<LightningModule*>(&model));
  if (own && own->has_attribute(name)) h.module_attribute = own;
  h.in_hparams = model.hparams().contains(name);
  if (const auto* dm = datamodule_of(model, given)) {
    auto* attrs = dynamic_cast<Attributes*>(const_cast<LightningDataModule*>(dm));
    if (attrs && attrs->has_attribute(name)) h.datamodule_attribute = attrs;
  }
  return h;
}

[[noreturn]] void missing(const std::string& name) {
  throw MisconfigurationException(fmt::format(
      "{} is neither stored in the model namespace nor the `hparams` namespace/dict, nor the datamodule; {}", name,
      kAccepted));
}

}  // namespace

bool lightning_hasattr(const LightningModule& model, const std::string& name, const LightningDataModule* datamodule) {
  return !holders(model, name, datamodule).empty();
}

c10::IValue lightning_getattr(const LightningModule& model, const std::string& name,
                              const LightningDataModule* datamodule) {
  const auto h = holders(model, name, datamodule);
  if (h.datamodule_attribute) return h.datamodule_attribute->attribute(name);
  if (h.in_hparams) return model.hparams().at(name);
  if (h.module_attribute) return h.module_attribute->attribute(name);
  missing(name);
}

void lightning_setattr(LightningModule& model, const std::string& name, const c10::IValue& value,
                       LightningDataModule* datamodule) {
  const auto h = holders(model, name, datamodule);
  if (h.empty()) missing(name);
  if (h.module_attribute) h.module_attribute->set_attribute(name, value);
  if (h.in_hparams) model.save_hyperparameters({{name, value}});
  if (h.datamodule_attribute) h.datamodule_attribute->set_attribute(name, value);
}

}  // namespace lightning::tuner
