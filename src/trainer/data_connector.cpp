// The Trainer's side of the data (Lightning's `_DataConnector`): where each stage's dataloaders
// come from, and the loops' dataloaders and batch counts as Trainer properties. The loops own
// the dataloaders and their setup (`setup_data`).
#include "lightning/trainer/trainer.h"

#include "lightning/loops/evaluation_loop.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/loops/prediction_loop.h"
#include "lightning/data/sampler.h"
#include "lightning/strategies/parallel.h"
#include "trainer/resolved_options.h"
#include "lightning/utilities/errors.h"
#include "utilities/numbers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace lightning {

namespace {

/// Lightning's `_process_dataloader`/`_resolve_sampler`: under a distributed strategy each
/// process's loader visits its share of the dataset. Training is shuffled whatever the loader
/// said (seeded with `seed_everything`'s seed, else 0, then the epoch); evaluation keeps the
/// loader's own shuffling; prediction gets every sample exactly once (no padding). A sampler of
/// the user's is wrapped; loaders that already shard, or stream, stay as they are.
DataLoader distributed_loader(const DataLoader& loader, RunningStage stage, const strategies::Strategy& strategy,
                              bool overfit) {
  if (!loader.dataset() || dynamic_cast<const DistributedSampler*>(loader.sampler().get())) return loader;
  const bool shuffle = (stage == RunningStage::Training || loader.options().shuffle) && !overfit;
  const auto* seed_env = std::getenv("PL_GLOBAL_SEED");
  const auto seed = seed_env ? lightning::detail::parse_integer<uint64_t>(seed_env) : std::optional<uint64_t>(0);
  if (!seed)
    throw MisconfigurationException(fmt::format(
        "PL_GLOBAL_SEED='{}' is invalid for the sampler's seed; accepted: an integer in [0, 2^64)", seed_env));
  const DistributedSampler::Options options{.num_replicas = strategy.world_size(),
                                            .rank = strategy.global_rank(),
                                            .shuffle = shuffle,
                                            .seed = *seed};
  const auto& user = loader.sampler();
  std::shared_ptr<const Sampler> sampler;
  if (stage == RunningStage::Predicting) {
    const UnrepeatedDistributedSampler::Options unrepeated{options.num_replicas, options.rank, false};
    if (user)
      sampler = std::make_shared<UnrepeatedDistributedSamplerWrapper>(user, unrepeated);
    else
      sampler = std::make_shared<UnrepeatedDistributedSampler>(unrepeated);
  } else if (user) {
    sampler = std::make_shared<DistributedSamplerWrapper>(user, options);
  } else {
    sampler = std::make_shared<DistributedSampler>(options);
  }
  return loader.with_sampler(std::move(sampler));
}

}  // namespace

DataLoaders Trainer::request_dataloaders(RunningStage stage) {
  auto loaders = requested_dataloaders(stage);
  if (options_->use_distributed_sampler && dynamic_cast<const strategies::ParallelStrategy*>(strategy_.get()))
    for (auto& loader : loaders.loaders) loader = distributed_loader(loader, stage, *strategy_, options_->overfit);
  return loaders;
}

DataLoaders Trainer::requested_dataloaders(RunningStage stage) {
  // Dataloaders passed to the entry point win, then the datamodule's, then the module's hooks.
  const DataLoaders* given = stage == RunningStage::Training     ? &given_train_
                             : stage == RunningStage::Testing    ? &given_test_
                             : stage == RunningStage::Predicting ? &given_predict_
                                                                 : &given_val_;
  if (!given->empty()) return *given;
  switch (stage) {
    case RunningStage::Training:
      return datamodule_ ? datamodule_->train_dataloader()
                         : call_module("train_dataloader", [](LightningModule& m) { return m.train_dataloader(); });
    case RunningStage::Testing:
      return datamodule_ ? datamodule_->test_dataloader()
                         : call_module("test_dataloader", [](LightningModule& m) { return m.test_dataloader(); });
    case RunningStage::Predicting:
      return datamodule_ ? datamodule_->predict_dataloader()
                         : call_module("predict_dataloader", [](LightningModule& m) { return m.predict_dataloader(); });
    default:
      return datamodule_ ? datamodule_->val_dataloader()
                         : call_module("val_dataloader", [](LightningModule& m) { return m.val_dataloader(); });
  }
}

bool Trainer::enable_validation() const {
  const auto& val_loop = fit_loop_->epoch_loop.val_loop;
  if (options_->limit_val_batches.is_zero() || !val_loop.step_available) return false;
  if (!val_loop.data_loaded()) return true;  // not requested yet: assume there is a source
  const auto& batches = val_loop.max_batches();
  return std::any_of(batches.begin(), batches.end(), [](int64_t n) { return n > 0; });
}

// --- the loops' dataloaders ---------------------------------------------------------------------

std::optional<DataLoader> Trainer::train_dataloader() const { return fit_loop_->train_dataloader(); }
int64_t Trainer::num_training_batches() const { return fit_loop_->num_training_batches(); }

namespace {
/// The fit's validation loop while fitting (or when only it has loaders), else `validate`'s.
const EvaluationLoop& val_loop_of(const Trainer& t) {
  const auto& fit_val = t.fit_loop().epoch_loop.val_loop;
  const bool fitting = t.runs_fit_loop();
  return fitting || (fit_val.data_loaded() && !t.validate_loop().data_loaded()) ? fit_val : t.validate_loop();
}
}  // namespace

const std::vector<DataLoader>& Trainer::val_dataloaders() const { return val_loop_of(*this).dataloaders(); }
const std::vector<int64_t>& Trainer::num_val_batches() const { return val_loop_of(*this).max_batches(); }
std::vector<int64_t> Trainer::num_sanity_val_batches() const {
  return fit_loop_->epoch_loop.val_loop.sanity_check_batches();
}
const std::vector<DataLoader>& Trainer::test_dataloaders() const { return test_loop_->dataloaders(); }
const std::vector<int64_t>& Trainer::num_test_batches() const { return test_loop_->max_batches(); }
const std::vector<DataLoader>& Trainer::predict_dataloaders() const { return predict_loop_->dataloaders(); }
const std::vector<int64_t>& Trainer::num_predict_batches() const { return predict_loop_->max_batches(); }

}  // namespace lightning
