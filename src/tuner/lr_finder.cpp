// The learning-rate finder: Lightning's `tuner/lr_finder.py` (its `_LRFinder`, `_lr_find`,
// `_LRCallback`, `_ExponentialLR` and `_LinearLR`), operation by operation, so that the learning
// rates, smoothed losses and suggestion are the doubles Lightning computes.
#include "lightning/tuner/lr_finder.h"

#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/core/module.h"
#include "lightning/optim/lr_scheduler.h"
#include "lightning/strategies/parallel.h"
#include "lightning/trainer/trainer.h"
#include "lightning/tuner/attributes.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "tuner/trial.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace lightning::tuner {

namespace {

/// Lightning's `_ExponentialLR` / `_LinearLR`: the sweep's schedule, stepped after every optimizer
/// step. Step 0 runs at min_lr; after step k, lr = min_lr * (max_lr / min_lr)^((k + 1) / N)
/// (exponential) or min_lr + (k + 1) / N * (max_lr - min_lr) (linear); the last of N steps runs
/// at max_lr.
class SweepLR final : public optim::LRScheduler {
 public:
  SweepLR(std::shared_ptr<torch::optim::Optimizer> optimizer, bool exponential, double end_lr, int64_t num_iter)
      : LRScheduler(std::move(optimizer)), exponential_(exponential), end_lr_(end_lr), num_iter_(num_iter) {
    set_base_lrs(group_lrs());  // Lightning sets each group's `initial_lr` to min_lr, its lr now
    initial_step();
  }
  const char* name() const override { return exponential_ ? "_ExponentialLR" : "_LinearLR"; }
  /// Puts back the optimizer's `initial_lr`s that the sweep replaced (empty: none were set).
  void restore_initial_lrs(std::vector<double> lrs) { set_base_lrs(std::move(lrs)); }

 protected:
  std::vector<double> get_lr() override {
    const int64_t curr_iter = last_epoch_ + 1;
    const double r = static_cast<double>(curr_iter) / static_cast<double>(num_iter_);
    if (last_epoch_ <= 0) return base_lrs_;
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(exponential_ ? base * std::pow(end_lr_ / base, r) : base + r * (end_lr_ - base));
    return lrs;
  }
  void write_state(Dict& state) const override {
    state.insert("end_lr", end_lr_);
    state.insert("num_iter", num_iter_);
  }
  void read_state(const Dict& state) override {
    end_lr_ = state.at("end_lr").toDouble();
    num_iter_ = state.at("num_iter").toInt();
  }

 private:
  bool exponential_;
  double end_lr_;
  int64_t num_iter_;
};

/// Lightning's `_LRCallback`: records the learning rate before each optimizer step and the
/// smoothed loss after it, and stops the sweep when the loss diverges.
class SweepCallback final : public Callback {
 public:
  static constexpr double kBeta = 0.98;

  SweepCallback(int64_t num_training, std::optional<double> early_stop_threshold, int64_t start_step, bool show_bar)
      : num_training_(num_training),
        early_stop_threshold_(early_stop_threshold),
        start_step_(start_step),
        show_bar_(show_bar),
        bar_(&std::cerr, lightning::detail::is_terminal(&std::cerr), 1, 0.1,
             lightning::detail::is_terminal(&std::cerr) ? -1 : 0) {}

  std::string state_key() const override { return "_LRCallback"; }

  void on_train_batch_start(Trainer& trainer, LightningModule&, const Batch&, int64_t batch_idx) override {
    if ((batch_idx + 1) % trainer.accumulate_grad_batches() != 0) return;
    if (show_bar_ && !bar_opened_) {
      bar_.open("Finding best initial lr", num_training_);
      bar_opened_ = true;
    }
    lrs.push_back(scheduler->get_last_lr().front());
  }

  void on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput& outputs, const Batch&,
                          int64_t batch_idx) override {
    if ((batch_idx + 1) % trainer.accumulate_grad_batches() != 0) return;
    // A skipped step has a learning rate but no loss: NaN, which the suggestion ignores.
    if (!outputs.loss.defined()) {
      losses.push_back(std::numeric_limits<double>::quiet_NaN());
      return;
    }
    if (bar_.advance_to(++bar_count_)) bar_.draw();
    const double current_loss = outputs.loss.item<double>();
    // Steps of this sweep (Lightning counts `trainer.global_step`, the same when the sweep starts
    // at step 0; later, its first-step rule would never fire).
    const int64_t current_step = trainer.global_step() - start_step_;
    avg_loss_ = kBeta * avg_loss_ + (1 - kBeta) * current_loss;
    const double smoothed_loss = avg_loss_ / (1 - std::pow(kBeta, static_cast<double>(current_step + 1)));
    if (early_stop_threshold_ && current_step > 1 && smoothed_loss > *early_stop_threshold_ * best_loss_) {
      trainer.should_stop = true;
      bar_.close();
    }
    if (smoothed_loss < best_loss_ || current_step == 1) best_loss_ = smoothed_loss;
    losses.push_back(smoothed_loss);
  }

  void close_bar() { bar_.close(); }

  const optim::LRScheduler* scheduler = nullptr;
  std::vector<double> lrs, losses;

 private:
  int64_t num_training_;
  std::optional<double> early_stop_threshold_;
  int64_t start_step_;
  bool show_bar_;
  lightning::detail::Bar bar_;
  bool bar_opened_ = false;
  int64_t bar_count_ = 0;
  double avg_loss_ = 0.0;
  double best_loss_ = 0.0;
};

std::string lowered(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Python's `[start:stop]` bounds for a sequence of `n`.
int64_t slice_bound(int64_t i, int64_t n) {
  if (i < 0) i += n;
  return std::clamp<int64_t>(i, 0, n);
}

}  // namespace

void validate_options(const LRFinderOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw MisconfigurationException(message);
  };
  require(o.method == "fit",
          fmt::format("method='{}' is invalid: method='fit' is the only valid configuration to run lr finder; "
                      "accepted: 'fit'",
                      o.method));
  const auto mode = lowered(o.mode);
  require(mode == "exponential" || mode == "linear",
          fmt::format("mode='{}' is invalid for the learning rate finder; accepted: 'exponential', 'linear'", o.mode));
  require(o.num_training >= 1, fmt::format("num_training={} is invalid; accepted: an int >= 1", o.num_training));
  if (mode == "exponential")
    require(o.min_lr > 0 && o.min_lr < o.max_lr,
            fmt::format("min_lr={} and max_lr={} are invalid for mode='exponential'; accepted: 0 < min_lr < max_lr",
                        o.min_lr, o.max_lr));
  else
    require(o.min_lr >= 0 && o.min_lr < o.max_lr,
            fmt::format("min_lr={} and max_lr={} are invalid for mode='linear'; accepted: 0 <= min_lr < max_lr",
                        o.min_lr, o.max_lr));
  if (o.early_stop_threshold)
    require(*o.early_stop_threshold > 0,
            fmt::format("early_stop_threshold={} is invalid; accepted: a number > 0, or unset to never stop early",
                        *o.early_stop_threshold));
}

LRFinder::LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training)
    : mode_(std::move(mode)), lr_min_(lr_min), lr_max_(lr_max), num_training_(num_training) {}

std::optional<double> LRFinder::suggestion(int64_t skip_begin, int64_t skip_end) {
  if (skip_begin < 0 || skip_end < 0)
    throw MisconfigurationException(fmt::format(
        "suggestion(skip_begin={}, skip_end={}) is invalid; accepted: ints >= 0", skip_begin, skip_end));
  const auto n = static_cast<int64_t>(losses.size());
  std::vector<double> kept;
  std::vector<int64_t> kept_idx;
  for (int64_t i = slice_bound(skip_begin, n); i < slice_bound(-skip_end, n); ++i)
    if (std::isfinite(losses[static_cast<size_t>(i)])) {
      kept.push_back(losses[static_cast<size_t>(i)]);
      kept_idx.push_back(i);
    }
  if (kept.size() < 2) {
    rank_zero_info(
        "Failed to compute suggestion for learning rate because there are not enough points. Increase the loop "
        "iteration limits or the size of your dataset/dataloader.");
    optimal_idx_.reset();
    return std::nullopt;
  }
  // numpy.gradient with unit spacing: one-sided differences at the ends, central ones inside;
  // argmin takes the first minimum (the first NaN, if any).
  const size_t m = kept.size();
  std::vector<double> gradient(m);
  gradient[0] = (kept[1] - kept[0]) / 1.0;
  gradient[m - 1] = (kept[m - 1] - kept[m - 2]) / 1.0;
  for (size_t i = 1; i + 1 < m; ++i) gradient[i] = (kept[i + 1] - kept[i - 1]) / 2.0;
  size_t min_grad = 0;
  for (size_t i = 0; i < m; ++i) {
    if (std::isnan(gradient[i])) {
      min_grad = i;
      break;
    }
    if (gradient[i] < gradient[min_grad]) min_grad = i;
  }
  // The index among all losses (Lightning 2.6; before, dropped non-finite losses shifted it).
  optimal_idx_ = kept_idx[min_grad];
  return lrs.at(static_cast<size_t>(*optimal_idx_));
}

std::string determine_lr_attr_name(const LightningModule& model, const std::string& attr_name) {
  if (!attr_name.empty()) {
    if (!lightning_hasattr(model, attr_name))
      throw MisconfigurationException(fmt::format(
          "The attribute name for the learning rate was set to {}, but could not find this as a field in `model` or "
          "`model.hparams`; accepted: attr_name naming a hyperparameter of the module or an attribute exposed through "
          "lightning::tuner::Attributes",
          attr_name));
    return attr_name;
  }
  for (const char* name : {"lr", "learning_rate"})
    if (lightning_hasattr(model, name)) return name;
  throw MisconfigurationException(
      "When using the learning rate finder, either `model` or `model.hparams` should have one of these fields: "
      "('lr', 'learning_rate'). If your model has a different name for the learning rate, set it with "
      "`.lr_find(attr_name=...)`; accepted: a module with one of them (save_hyperparameters({{\"lr\", ...}}) or an "
      "attribute exposed through lightning::tuner::Attributes), or update_attr=false");
}

std::shared_ptr<LRFinder> lr_find(Trainer& trainer, LightningModule& model, const LRFinderOptions& options) {
  validate_options(options);
  const std::string mode = lowered(options.mode);
  if (trainer.fast_dev_run() > 0) {
    rank_zero_warn("Skipping learning rate finder since `fast_dev_run` is enabled.");
    return nullptr;
  }
  if (dynamic_cast<const strategies::ParallelStrategy*>(&trainer.strategy()))
    throw MisconfigurationException(fmt::format(
        "The learning rate finder is not supported with distributed strategies (strategy '{}'); accepted: a "
        "single-process strategy",
        trainer.strategy().name()));
  const std::string attr_name = options.update_attr ? determine_lr_attr_name(model, options.attr_name) : "";
  const auto& optimizers = model.optimizers();
  if (optimizers.size() != 1)
    throw MisconfigurationException(fmt::format(
        "`model.configure_optimizers()` returned {}, but learning rate finder only works with single optimizer; "
        "accepted: one optimizer",
        optimizers.size()));
  if (!model.automatic_optimization)
    throw MisconfigurationException(
        "The learning rate finder steps its schedule after every automatic optimizer step; accepted: "
        "automatic_optimization = true");

  const auto* bar = trainer.progress_bar_callback();
  const bool show_bar = bar && bar->is_enabled() && trainer.is_global_zero();
  const int64_t start_steps = trainer.global_step();
  const auto optimizer = optimizers.front().optimizer();
  const auto initial_lrs = optim::initial_lrs_of(*optimizer);
  auto callback = std::make_shared<SweepCallback>(options.num_training, options.early_stop_threshold, start_steps,
                                                  show_bar);
  detail::Trial trial(trainer, {callback});
  trial.options().max_steps = options.num_training + start_steps;
  trial.options().limit_val_batches = BatchLimit(options.num_training);
  // Lightning's `_exchange_scheduler`: the optimizer starts at min_lr, under the sweep's schedule only.
  for (auto& group : optimizer->param_groups()) group.options().set_lr(options.min_lr);
  auto sweep = std::make_shared<SweepLR>(optimizer, mode == "exponential", options.max_lr, options.num_training);
  callback->scheduler = sweep.get();
  detail::TrainerAccess::scheduler_configs(trainer) = {LRSchedulerConfig{.scheduler = sweep, .interval = "step"}};
  try {
    trial.run_fit_loop(/*reset_progress=*/false);
  } catch (...) {
    callback->close_bar();
    sweep->restore_initial_lrs(initial_lrs);
    throw;
  }
  callback->close_bar();
  if (trainer.global_step() != options.num_training + start_steps)
    rank_zero_info(
        fmt::format("LR finder stopped early after {} steps due to diverging loss.", trainer.global_step()));
  auto finder = std::make_shared<LRFinder>(mode, options.min_lr, options.max_lr, options.num_training);
  finder->lrs = std::move(callback->lrs);
  finder->losses = std::move(callback->losses);
  trial.restore();
  sweep->restore_initial_lrs(initial_lrs);
  // After the restore, so that it holds for the training that follows (Lightning 2.6): the
  // attribute, and the optimizer already built from the old value.
  if (options.update_attr) {
    if (auto lr = finder->suggestion()) {
      lightning_setattr(model, attr_name, *lr);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(*lr);
      rank_zero_info(fmt::format("Learning rate set to {}", *lr));
    }
  }
  finder->log_dir = trainer.log_dir().value_or(trainer.default_root_dir());
  return finder;
}

}  // namespace lightning::tuner
