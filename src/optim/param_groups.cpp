#include "optim/param_groups.h"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

namespace lightning::detail {

using namespace torch::optim;

std::optional<double> momentum_of(const OptimizerOptions& o) {
  if (auto* a = dynamic_cast<const AdamOptions*>(&o)) return std::get<0>(a->betas());
  if (auto* a = dynamic_cast<const AdamWOptions*>(&o)) return std::get<0>(a->betas());
  if (auto* s = dynamic_cast<const SGDOptions*>(&o)) return s->momentum();
  if (auto* r = dynamic_cast<const RMSpropOptions*>(&o)) return r->momentum();
  return std::nullopt;
}

bool set_momentum(OptimizerOptions& o, double momentum) {
  if (auto* a = dynamic_cast<AdamOptions*>(&o)) {
    a->betas({momentum, std::get<1>(a->betas())});
  } else if (auto* w = dynamic_cast<AdamWOptions*>(&o)) {
    w->betas({momentum, std::get<1>(w->betas())});
  } else if (auto* s = dynamic_cast<SGDOptions*>(&o)) {
    s->momentum(momentum);
  } else if (auto* r = dynamic_cast<RMSpropOptions*>(&o)) {
    r->momentum(momentum);
  } else {
    return false;
  }
  return true;
}

bool uses_betas(const OptimizerOptions& o) {
  return dynamic_cast<const AdamOptions*>(&o) || dynamic_cast<const AdamWOptions*>(&o);
}

std::optional<double> weight_decay_of(const OptimizerOptions& o) {
  if (auto* a = dynamic_cast<const AdamOptions*>(&o)) return a->weight_decay();
  if (auto* a = dynamic_cast<const AdamWOptions*>(&o)) return a->weight_decay();
  if (auto* s = dynamic_cast<const SGDOptions*>(&o)) return s->weight_decay();
  if (auto* r = dynamic_cast<const RMSpropOptions*>(&o)) return r->weight_decay();
  if (auto* g = dynamic_cast<const AdagradOptions*>(&o)) return g->weight_decay();
  return std::nullopt;
}

}  // namespace lightning::detail
