#include "lightning/callbacks/lr_monitor.h"

#include "lightning/loggers/logger.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "utilities/type_name.h"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <fmt/format.h>

#include <iostream>

namespace lightning {
namespace {

/// PyTorch's momentum of a param group: betas[0] for Adam-style optimizers, else `momentum`.
std::optional<double> momentum_of(const torch::optim::OptimizerOptions& o) {
  using namespace torch::optim;
  if (auto* a = dynamic_cast<const AdamOptions*>(&o)) return std::get<0>(a->betas());
  if (auto* a = dynamic_cast<const AdamWOptions*>(&o)) return std::get<0>(a->betas());
  if (auto* s = dynamic_cast<const SGDOptions*>(&o)) return s->momentum();
  if (auto* r = dynamic_cast<const RMSpropOptions*>(&o)) return r->momentum();
  return std::nullopt;
}

std::optional<double> weight_decay_of(const torch::optim::OptimizerOptions& o) {
  using namespace torch::optim;
  if (auto* a = dynamic_cast<const AdamOptions*>(&o)) return a->weight_decay();
  if (auto* a = dynamic_cast<const AdamWOptions*>(&o)) return a->weight_decay();
  if (auto* s = dynamic_cast<const SGDOptions*>(&o)) return s->weight_decay();
  if (auto* r = dynamic_cast<const RMSpropOptions*>(&o)) return r->weight_decay();
  if (auto* g = dynamic_cast<const AdagradOptions*>(&o)) return g->weight_decay();
  return std::nullopt;
}

}  // namespace

LearningRateMonitor::LearningRateMonitor(std::optional<std::string> logging_interval, bool log_momentum,
                                         bool log_weight_decay)
    : logging_interval_(std::move(logging_interval)), log_momentum_(log_momentum), log_weight_decay_(log_weight_decay) {
  if (logging_interval_ && *logging_interval_ != "step" && *logging_interval_ != "epoch")
    throw MisconfigurationException(fmt::format(
        "LearningRateMonitor: logging_interval='{}' is invalid; accepted: 'step', 'epoch' or unset",
        *logging_interval_));
}

void LearningRateMonitor::on_train_start(Trainer& trainer, LightningModule& module) {
  if (trainer.loggers().empty())
    throw MisconfigurationException(
        "Cannot use the LearningRateMonitor callback with a Trainer that has no logger; accepted: logger=true or a "
        "logger");
  if (log_momentum_)
    for (const auto& optimizer : module.optimizers())
      for (const auto& group : optimizer->param_groups())
        if (!momentum_of(group.options()))
          std::cerr << "You have set log_momentum=true, but some optimizers do not have momentum. This will log a "
                       "value 0 for the momentum."
                    << std::endl;
  // Lightning's names: lr-<Optimizer>, a counter suffix for repeated types, /pgN for groups.
  names_.clear();
  std::map<std::string, int> seen;
  for (const auto& optimizer : module.optimizers()) {
    auto name = "lr-" + detail::class_name(typeid(*optimizer));
    if (int n = seen[name]++; n > 0) name += fmt::format("-{}", n);
    std::vector<std::string> group_names;
    const auto& groups = optimizer->param_groups();
    for (size_t i = 0; i < groups.size(); ++i)
      group_names.push_back(groups.size() > 1 ? fmt::format("{}/pg{}", name, i + 1) : name);
    names_.push_back(std::move(group_names));
  }
}

std::map<std::string, double> LearningRateMonitor::extract_stats(Trainer& trainer) const {
  std::map<std::string, double> stats;
  const auto& optimizers = trainer.lightning_module().optimizers();
  for (size_t i = 0; i < optimizers.size() && i < names_.size(); ++i) {
    const auto& groups = optimizers[i]->param_groups();
    for (size_t g = 0; g < groups.size() && g < names_[i].size(); ++g) {
      const auto& o = groups[g].options();
      const auto& name = names_[i][g];
      stats[name] = o.get_lr();
      if (log_momentum_) stats[name + "-momentum"] = momentum_of(o).value_or(0.0);
      if (log_weight_decay_) stats[name + "-weight_decay"] = weight_decay_of(o).value_or(0.0);
    }
  }
  return stats;
}

void LearningRateMonitor::log_stats(Trainer& trainer) {
  auto stats = extract_stats(trainer);
  if (stats.empty()) return;
  const auto step = trainer.fit_loop().epoch_loop.batches_that_stepped;
  for (const auto& logger : trainer.loggers()) logger->log_metrics(stats, step);
}

void LearningRateMonitor::on_train_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t) {
  if (!trainer.logger_connector().should_update_logs()) return;
  if (logging_interval_ != "epoch") log_stats(trainer);
}

void LearningRateMonitor::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  if (logging_interval_ != "step") log_stats(trainer);
}

}  // namespace lightning
