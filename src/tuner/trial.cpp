#include "tuner/trial.h"

#include "lightning/loggers/logger.h"
#include "lightning/logging/logger_connector.h"
#include "lightning/logging/result_collection.h"
#include "lightning/loops/fit_loop.h"

#include <ATen/core/ivalue.h>

#include <iostream>

namespace lightning::tuner::detail {

namespace {

constexpr const char* kCheckpointName = "the tuner's in-memory checkpoint";

/// A copy that shares no tensor with `v`: the checkpoint's tensors are views of the live weights
/// and optimizer states, which the trials change in place.
c10::IValue deep_copy(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor().clone();
  if (v.isGenericDict()) {
    const auto d = v.toGenericDict();
    c10::impl::GenericDict out(d.keyType(), d.valueType());
    for (const auto& entry : d) out.insert(entry.key(), deep_copy(entry.value()));
    return out;
  }
  if (v.isList()) {
    const auto list = v.toList();
    c10::impl::GenericList out(list.elementType());
    for (const auto& item : list) out.push_back(deep_copy(item));
    return out;
  }
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto& item : v.toTupleRef().elements()) items.push_back(deep_copy(item));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return v;
}

}  // namespace

LoopCounters LoopCounters::of(const FitLoop& loop) {
  const auto& el = loop.epoch_loop;
  const auto& opt = el.optimization;
  return {loop.epoch_progress,       el.batch_progress,       el.scheduler_progress,
          el.batches_that_stepped,   el.step_pending,         el.resume_batch,
          el.resume_validation,      el.finish_interrupted_batch, opt.step_progress,
          opt.zero_grad_progress,    opt.manual_step_progress, el.val_loop.batch_progress,
          el.val_loop.step_available, el.val_loop.has_run};
}

void LoopCounters::apply_to(FitLoop& loop) const {
  auto& el = loop.epoch_loop;
  auto& opt = el.optimization;
  loop.epoch_progress = epoch;
  el.batch_progress = batch;
  el.scheduler_progress = scheduler;
  el.batches_that_stepped = batches_that_stepped;
  el.step_pending = step_pending;
  el.resume_batch = resume_batch;
  el.resume_validation = resume_validation;
  el.finish_interrupted_batch = finish_interrupted_batch;
  opt.step_progress = step;
  opt.zero_grad_progress = zero_grad;
  opt.manual_step_progress = manual_step;
  el.val_loop.batch_progress = val_batch;
  el.val_loop.step_available = val_step_available;
  el.val_loop.has_run = val_has_run;
}

Trial::Trial(Trainer& trainer, std::vector<std::shared_ptr<Callback>> callbacks)
    : t_(trainer),
      checkpoint_(deep_copy(trainer.dump_checkpoint()).toGenericDict()),
      counters_(LoopCounters::of(trainer.fit_loop())),
      options_(TrainerAccess::options(trainer)),
      state_(trainer.state()),
      should_stop_(trainer.should_stop),
      callback_metrics_(trainer.logger_connector().callback_metrics()),
      logged_metrics_(trainer.logger_connector().logged_metrics()),
      active_results_(trainer.results()),
      had_train_dataloader_(trainer.fit_loop().train_dataloader().has_value()) {
  auto& module = trainer.lightning_module();
  for (const auto& p : module.parameters()) grads_.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  module.apply([&](torch::nn::Module& m) { training_modes_.emplace_back(&m, m.is_training()); });
  // Moved out and back in, not copied: a hook may be iterating over these lists (the finder
  // callbacks run inside on_fit_start), and a moved vector keeps its elements where they are.
  callbacks_ = std::move(TrainerAccess::callbacks(trainer));
  TrainerAccess::callbacks(trainer) = std::move(callbacks);
  loggers_ = std::move(TrainerAccess::loggers(trainer));
  // Lightning: "No logging" (a DummyLogger where there was a logger).
  if (!loggers_.empty()) TrainerAccess::loggers(trainer) = {std::make_shared<DummyLogger>()};
  scheduler_configs_ = std::move(TrainerAccess::scheduler_configs(trainer));
  TrainerAccess::scheduler_configs(trainer) = scheduler_configs_;
  // Lightning's trials run the fit loop itself, which has no sanity check.
  TrainerAccess::options(trainer).num_sanity_val_steps = 0;
}

Trial::~Trial() {
  if (restored_) return;
  try {
    restore();
  } catch (const std::exception& e) {
    std::cerr << "Tuner: restoring the trainer after a failed trial failed too (reported, not raised): " << e.what()
              << std::endl;
  }
}

lightning::detail::ResolvedOptions& Trial::options() { return TrainerAccess::options(t_); }

void Trial::run_fit_loop(bool reset_progress) {
  auto& loop = t_.fit_loop();
  counters_.apply_to(loop);
  if (reset_progress) {
    auto& opt = loop.epoch_loop.optimization;
    opt.step_progress = Progress(opt.step_progress.events);
    opt.zero_grad_progress = Progress(opt.zero_grad_progress.events);
    opt.manual_step_progress = Progress(opt.manual_step_progress.events);
    loop.epoch_progress = Progress(loop.epoch_progress.events);
  }
  t_.should_stop = false;
  struct StageGuard {
    Trainer& t;
    std::optional<RunningStage> stage = t.state().stage;
    ResultCollection* results = t.results();
    ~StageGuard() {
      t.set_stage(stage);
      t.set_active_results(results);
    }
  } guard{t_};
  loop.run();
}

void Trial::restore() {
  restored_ = true;
  auto& t = t_;
  TrainerAccess::options(t) = options_;
  TrainerAccess::callbacks(t) = std::move(callbacks_);
  TrainerAccess::loggers(t) = std::move(loggers_);
  TrainerAccess::scheduler_configs(t) = std::move(scheduler_configs_);
  TrainerAccess::restore(t, checkpoint_, kCheckpointName);
  auto& loop = t.fit_loop();
  counters_.apply_to(loop);
  auto& module = t.lightning_module();
  const auto params = module.parameters();
  for (size_t i = 0; i < params.size() && i < grads_.size(); ++i) params[i].mutable_grad() = grads_[i];
  for (auto& [m, training] : training_modes_) m->train(training);
  t.logger_connector().callback_metrics() = callback_metrics_;
  t.logger_connector().logged_metrics() = logged_metrics_;
  TrainerAccess::state(t) = state_;
  t.should_stop = should_stop_;
  // What the trials logged must not count in the run's epoch values; the loaders are requested
  // again (the trials' limits and batch sizes counted their batches). A train dataloader that
  // existed is rebuilt at once, in place: a running fit loop (a search from
  // on_train_epoch_start) goes on with it.
  loop.epoch_loop.results.reset();
  t.set_active_results(active_results_);
  loop.epoch_loop.val_loop.reset_data();
  loop.reset_data();
  if (had_train_dataloader_) loop.setup_data();
}

}  // namespace lightning::tuner::detail
