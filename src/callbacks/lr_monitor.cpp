#include "lightning/callbacks/lr_monitor.h"

#include "lightning/loggers/logger.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "optim/param_groups.h"
#include "utilities/type_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

namespace lightning {

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
        if (!detail::momentum_of(group.options()))
          rank_zero_info("You have set log_momentum=true, but some optimizers do not have momentum. This will log a "
                         "value 0 for the momentum.");
  // Lightning's names: the config's `name` or lr-<Optimizer>, a counter suffix for repeated
  // unnamed types, /pgN for groups; schedulers first, then optimizers without one.
  names_.clear();
  entries_.clear();
  std::map<std::string, int> seen;
  auto add = [&](torch::optim::Optimizer& optimizer, const std::optional<std::string>& given,
                 std::optional<std::string> interval) {
    auto name = given.value_or("lr-" + detail::class_name(typeid(optimizer)));
    if (!given)
      if (int n = seen[name]++; n > 0) name += fmt::format("-{}", n);
    std::vector<std::string> group_names;
    const auto& groups = optimizer.param_groups();
    for (size_t i = 0; i < groups.size(); ++i)
      group_names.push_back(groups.size() > 1 ? fmt::format("{}/pg{}", name, i + 1) : name);
    names_.push_back(std::move(group_names));
    entries_.push_back({&optimizer, std::move(interval)});
  };
  std::vector<const torch::optim::Optimizer*> scheduled;
  for (const auto& config : trainer.lr_scheduler_configs()) {
    add(*config.scheduler->optimizer(), config.name, config.interval);
    scheduled.push_back(config.scheduler->optimizer().get());
  }
  for (const auto& optimizer : module.optimizers())
    if (std::find(scheduled.begin(), scheduled.end(), optimizer.get()) == scheduled.end())
      add(*optimizer, std::nullopt, std::nullopt);
}

std::map<std::string, double> LearningRateMonitor::extract_stats(const char* interval) const {
  std::map<std::string, double> stats;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& entry = entries_[i];
    if (entry.interval && !logging_interval_ && *entry.interval != interval) continue;
    const auto& groups = entry.optimizer->param_groups();
    for (size_t g = 0; g < groups.size() && g < names_[i].size(); ++g) {
      const auto& o = groups[g].options();
      const auto& name = names_[i][g];
      stats[name] = o.get_lr();
      if (log_momentum_) stats[name + "-momentum"] = detail::momentum_of(o).value_or(0.0);
      if (log_weight_decay_) stats[name + "-weight_decay"] = detail::weight_decay_of(o).value_or(0.0);
    }
  }
  return stats;
}

void LearningRateMonitor::log_stats(Trainer& trainer, const char* interval) {
  auto stats = extract_stats(interval);
  if (stats.empty()) return;
  const auto step = trainer.batches_that_stepped();
  if (trainer.is_global_zero())
    for (const auto& logger : trainer.loggers()) logger->log_metrics(stats, step);
}

void LearningRateMonitor::on_train_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t) {
  if (!trainer.logger_connector().should_update_logs()) return;
  if (logging_interval_ != "epoch") log_stats(trainer, "step");
}

void LearningRateMonitor::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  if (logging_interval_ != "step") log_stats(trainer, "epoch");
}

}  // namespace lightning
