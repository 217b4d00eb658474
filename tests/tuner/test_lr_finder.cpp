// The learning-rate finder: Lightning's schedules, smoothing, early stop and suggestion (golden
// numbers from Lightning's formulas run with numpy/torch 1.13 in Python), the suggestion on a toy
// regression whose usable learning rates are known, the state restored bit for bit, the SVG plot,
// the three ways to run it (Trainer::tune, Tuner, LearningRateFinder) and their errors.
#include <lightning/lightning.h>

#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/temp_dir.h"
#include "tuner/tuner_helpers.h"
#include "utilities/fs.h"

#include <gtest/gtest.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace L = lightning;
using namespace lightning::testing;

namespace {

/// Golden numbers (Python, Lightning 2.2.5's `_LRCallback` smoothing and torch 1.13's scheduler
/// stepping of Lightning's `_ExponentialLR`) for this raw loss curve, one loss per step.
const std::vector<double> kRaw = {2.5, 2.4, 2.45, 2.3, 2.2, 2.25, 2.0, 1.9, 1.7, 1.6, 1.4, 1.1, 0.9,
                                  0.8, 0.7, 0.75, 0.7, 0.8, 1.0, 1.5, 2.5, 4.0, 7.0, 12.0, 20.0};
const std::vector<double> kSmoothed = {
    1.2626262626262612, 1.6494354509590523, 1.8556818954696928, 1.948171859943152,  1.992291234885062,
    2.031375186685539,  2.027170439681368,  2.0118719461018806, 1.977774014482696,  1.9398579633723834,
    1.8897046980804377, 1.8213253694043152, 1.7465297345531456, 1.6741182679567321, 1.6035816836789796,
    1.5448513362110332, 1.4894266562318101, 1.4461708710632144, 1.419324807791536,  1.4239915640282672,
    1.4839648395772687, 1.619361947662057,  1.899443295058536,  2.4088838146526452, 3.2699175719842386};
/// `_ExponentialLR` from 1e-5 to 1 over 25 steps.
const std::vector<double> kLrs = {
    1e-05, 2.5118864315095805e-05, 3.981071705534973e-05, 6.309573444801933e-05, 0.00010000000000000003,
    0.00015848931924611134, 0.0002511886431509581, 0.0003981071705534973, 0.0006309573444801932,
    0.0010000000000000002, 0.0015848931924611134, 0.0025118864315095794, 0.003981071705534973,
    0.006309573444801936, 0.009999999999999997, 0.015848931924611138, 0.025118864315095815, 0.03981071705534971,
    0.06309573444801933, 0.10000000000000005, 0.1584893192461113, 0.251188643150958, 0.39810717055349737,
    0.6309573444801929, 0.9999999999999999};

/// training_step returns the next scripted loss (a double, so no rounding) whatever the batch,
/// and records the learning rate its optimizer holds.
struct ScriptedLoss : BoringModel {
  std::vector<double> raw;
  size_t calls = 0;
  std::vector<double> seen_lrs;
  explicit ScriptedLoss(std::vector<double> r) : raw(std::move(r)) { save_hyperparameters({{"lr", 0.1}}); }
  L::StepOutput training_step(const L::Batch&, int64_t) override {
    seen_lrs.push_back(optimizers()[0]->param_groups()[0].options().get_lr());
    const double v = raw.at(std::min(calls++, raw.size() - 1));
    return layer->weight.sum().to(torch::kFloat64) * 0 + v;
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(hparams()["lr"].toDouble()));
  }
};

L::TrainerOptions quiet_in(const TempDir& dir, L::TrainerOptions o = {}) {
  o.default_root_dir = dir.str();
  if (!o.max_epochs) o.max_epochs = 1000;
  return quiet(std::move(o));
}

/// y = x w exactly, 64 samples of 4 features, seen as the same full batch at every step; MSE.
/// SGD on it converges for lr < 2 / lambda_max of the Hessian 2 x^T x / 64, and 100 steps reduce
/// the loss tenfold once lr > ln(10) / (100 lambda_min): the usable range is known.
struct ToyRegression : L::LightningModule {
  torch::nn::Linear linear{nullptr};
  torch::Tensor x, y;
  ToyRegression() {
    x = torch::randn({64, 4});
    y = x.mm(torch::randn({4, 1}));
    linear = register_module("linear", torch::nn::Linear(torch::nn::LinearOptions(4, 1).bias(false)));
    torch::NoGradGuard no_grad;
    linear->weight.zero_();
    save_hyperparameters({{"lr", 1e-3}});
  }
  L::StepOutput training_step(const L::Batch& b, int64_t) override {
    return torch::nn::functional::mse_loss(linear->forward(b[0]), b[1]);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(hparams()["lr"].toDouble()));
  }
  L::DataLoaders train_dataloader() override {
    auto data = std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x.repeat({100, 1}), y.repeat({100, 1})});
    return L::DataLoader(data, {.batch_size = 64});
  }
  std::pair<double, double> usable_range() const {
    const auto eig = torch::linalg_eigvalsh(2 * x.t().mm(x) / 64);
    return {std::log(10.0) / (100 * eig.min().item<double>()), 2 / eig.max().item<double>()};
  }
};

}  // namespace

TEST(LRFinder, SuggestionIsNumpysSteepestGradient) {
  L::tuner::LRFinder finder("exponential", 1e-5, 1.0, 25);
  finder.lrs = kLrs;
  finder.losses = kSmoothed;
  // numpy.gradient(losses[10:-1]).argmin() + 10 == 12.
  EXPECT_EQ(finder.suggestion(), 0.003981071705534973);
  EXPECT_EQ(finder.optimal_idx(), 12);
  EXPECT_EQ(finder.suggestion(2, 3), kLrs[12]);
  EXPECT_EQ(finder.suggestion(15, 5), kLrs[15]);
  // Non-finite losses are dropped; the index is that of the loss among all (Lightning 2.6;
  // before, the drop shifted it to 10).
  finder.losses[10] = std::nan("");
  finder.losses[11] = -INFINITY;
  EXPECT_EQ(finder.suggestion(), kLrs[12]);
  // Python's losses[10:-0] is empty; fewer than 2 points give no suggestion.
  finder.losses = kSmoothed;
  std::optional<double> none = 1.0;
  auto printed = silenced([&] { none = finder.suggestion(10, 0); });
  EXPECT_FALSE(none);
  EXPECT_FALSE(finder.optimal_idx());
  EXPECT_TRUE(contains(printed, "Failed to compute suggestion for learning rate because there are not enough points"));
  finder.losses.resize(12);
  EXPECT_FALSE(silenced([&] { none = finder.suggestion(); }).empty());
  EXPECT_FALSE(none);
  EXPECT_TRUE(contains(error_of([&] { finder.suggestion(-1); }), "suggestion(skip_begin=-1, skip_end=1) is invalid"));
}

TEST(LRFinder, SmoothedLossesAndExponentialRatesEqualLightnings) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(kRaw);
  L::Trainer trainer(quiet_in(dir));
  std::shared_ptr<L::tuner::LRFinder> finder;
  silenced([&] {
    finder = L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {}, {.min_lr = 1e-5, .num_training = 25});
  });
  ASSERT_TRUE(finder);
  EXPECT_EQ(finder->lrs, kLrs);
  EXPECT_EQ(finder->losses, kSmoothed);
  // The optimizer really ran at those rates.
  EXPECT_EQ(model->seen_lrs, kLrs);
  // update_attr: the suggestion is the module's lr now.
  EXPECT_EQ(finder->optimal_idx(), 12);
  EXPECT_EQ(model->hparams()["lr"].toDouble(), kLrs[12]);
}

TEST(LRFinder, ExponentialAndLinearSchedulesEqualLightnings) {
  TempDir dir;
  {
    auto model = std::make_shared<ScriptedLoss>(std::vector<double>{1.0});
    L::Trainer trainer(quiet_in(dir));
    std::shared_ptr<L::tuner::LRFinder> finder;
    silenced([&] {
      finder = L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {},
                                                {.early_stop_threshold = std::nullopt, .update_attr = false});
    });
    ASSERT_EQ(finder->lrs.size(), 100u);
    // lr[0] = min_lr, then min_lr * (max_lr / min_lr)^((i + 1) / 100): the second skips 1/100.
    EXPECT_EQ(finder->lrs[0], 1e-08);
    EXPECT_EQ(finder->lrs[1], 1.4454397707459274e-08);
    EXPECT_EQ(finder->lrs[2], 1.7378008287493753e-08);
    EXPECT_EQ(finder->lrs[49], 0.0001);
    EXPECT_EQ(finder->lrs[98], 0.8317637711026709);
    EXPECT_EQ(finder->lrs[99], 1.0);
    EXPECT_EQ(model->seen_lrs, finder->lrs);
    EXPECT_EQ(model->hparams()["lr"].toDouble(), 0.1);  // update_attr=false
  }
  auto model = std::make_shared<ScriptedLoss>(std::vector<double>{1.0});
  L::Trainer trainer(quiet_in(dir));
  std::shared_ptr<L::tuner::LRFinder> finder;
  silenced([&] {
    finder = L::tuner::Tuner(trainer).lr_find(
        model, std::nullopt, {}, {.min_lr = 1e-4, .max_lr = 0.5, .num_training = 7, .mode = "linear", .update_attr = false});
  });
  EXPECT_EQ(finder->lrs, (std::vector<double>{0.0001, 0.1429285714285714, 0.2143428571428571, 0.2857571428571428,
                                              0.3571714285714286, 0.42858571428571424, 0.5}));
  EXPECT_EQ(finder->mode(), "linear");
}

TEST(LRFinder, StopsEarlyWhenTheLossDiverges) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(
      std::vector<double>{1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.6, 1.0, 3.0, 10.0, 40.0, 200.0, 1000.0, 5000.0});
  L::Trainer trainer(quiet_in(dir));
  std::shared_ptr<L::tuner::LRFinder> finder;
  auto printed = silenced([&] { finder = L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {}, {.num_training = 15}); });
  // Python: the smoothed loss first exceeds 4 x the best at step 12.
  ASSERT_EQ(finder->losses.size(), 12u);
  EXPECT_EQ(finder->lrs.size(), 12u);
  EXPECT_EQ(finder->losses[11], 5.055918521297133);
  EXPECT_EQ(finder->losses[9], 0.8977224633570177);
  EXPECT_TRUE(contains(printed, "LR finder stopped early after 12 steps due to diverging loss."));
  // Without a threshold the sweep runs to the end.
  model->calls = 0;
  silenced([&] {
    finder = L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {},
                                              {.num_training = 15, .early_stop_threshold = std::nullopt});
  });
  EXPECT_EQ(finder->losses.size(), 15u);
}

TEST(LRFinder, SuggestionOfAToyRegressionIsInItsUsableRange) {
  TempDir dir;
  torch::manual_seed(3);
  auto model = std::make_shared<ToyRegression>();
  const auto [low, high] = model->usable_range();
  ASSERT_LT(low, high);
  L::Trainer trainer(quiet_in(dir, {.auto_lr_find = true}));
  L::tuner::TuneResult result;
  silenced([&] { result = trainer.tune(model, std::nullopt, {}, {}, {.min_lr = 1e-5, .max_lr = 10.0}); });
  ASSERT_TRUE(result.lr_find);
  EXPECT_FALSE(result.scale_batch_size);
  const auto suggestion = result.lr_find->suggestion();
  ASSERT_TRUE(suggestion);
  EXPECT_GT(*suggestion, low);
  EXPECT_LT(*suggestion, high);
  // Written to the hyperparameter; the weights are as they were (zero).
  EXPECT_EQ(model->hparams()["lr"].toDouble(), *suggestion);
  EXPECT_EQ(model->linear->weight.abs().sum().item<double>(), 0.0);
  // And a fit with it converges.
  L::Trainer fit(quiet_in(dir, {.max_epochs = 1}));
  fit.fit(model);
  EXPECT_LT(torch::nn::functional::mse_loss(model->linear->forward(model->x), model->y).item<double>(), 1e-3);
}

namespace {

/// Checks, from inside the fit, that a sweep leaves the whole checkpointed state (weights,
/// buffers, optimizer and scheduler states, loops, callbacks, random generators), gradients,
/// modes, metrics and trainer state exactly as they were.
struct ProbeFinder : L::LearningRateFinder {
  using L::LearningRateFinder::LearningRateFinder;
  std::string difference = "not run";
  bool same_state = false, same_training = false, grads_undefined = false;
  void on_fit_start(L::Trainer& t, L::LightningModule& m) override {
    const auto before = deep_clone(t.dump_checkpoint());
    const auto state = t.state();
    const bool training = m.is_training();
    lr_find(t, m);
    difference = first_difference(before, t.dump_checkpoint());
    same_state = t.state().fn == state.fn && t.state().stage == state.stage && t.state().status == state.status &&
                 !t.should_stop;
    same_training = m.is_training() == training;
    grads_undefined = true;
    for (const auto& p : m.parameters()) grads_undefined = grads_undefined && !p.grad().defined();
  }
};

/// A callback with state, which the sweep must neither run nor change.
struct CountingCallback : L::Callback {
  int64_t batches = 0;
  L::Dict state_dict() const override {
    auto d = L::new_dict();
    d.insert("batches", batches);
    return d;
  }
  void on_train_batch_end(L::Trainer&, L::LightningModule&, const L::StepOutput&, const L::Batch&, int64_t) override {
    ++batches;
  }
};

/// BatchNorm (buffers), SGD with momentum and weight decay (optimizer state) and a StepLR.
struct Stateful : BoringModel {
  torch::nn::BatchNorm1d norm{nullptr};
  Stateful() {
    norm = register_module("norm", torch::nn::BatchNorm1d(32));
    save_hyperparameters({{"lr", 0.05}});
  }
  torch::Tensor forward(const torch::Tensor& x) override { return layer->forward(norm->forward(x)); }
  L::DataLoaders train_dataloader() override { return random_loader(64, 4); }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(hparams()["lr"].toDouble()).momentum(0.9).weight_decay(1e-4));
    return {opt, std::make_shared<L::optim::StepLR>(opt, 1, 0.5)};
  }
};

}  // namespace

TEST(LRFinder, RestoresEveryStateBitForBitAndTrainingIsUnchanged) {
  TempDir dir;
  auto run = [&](bool with_finder) {
    L::seed_everything(7);
    auto model = std::make_shared<Stateful>();
    auto probe = std::make_shared<ProbeFinder>(1e-6, 1.0, 30, "exponential", 4.0, /*update_attr=*/false);
    auto counter = std::make_shared<CountingCallback>();
    std::vector<std::shared_ptr<L::Callback>> callbacks{counter};
    if (with_finder) callbacks.insert(callbacks.begin(), probe);
    L::Trainer trainer(quiet_in(dir, {.callbacks = callbacks, .max_epochs = 1, .max_steps = 5}));
    silenced([&] { trainer.fit(model); });
    if (with_finder) {
      EXPECT_EQ(probe->difference, "");
      EXPECT_TRUE(probe->same_state);
      EXPECT_TRUE(probe->same_training);
      EXPECT_TRUE(probe->grads_undefined);
      EXPECT_EQ(probe->optimal_lr()->lrs.size(), 16u);  // one epoch of 16 batches
    }
    EXPECT_EQ(counter->batches, 5);  // the sweep's 16 steps ran without the user's callbacks
    EXPECT_EQ(trainer.global_step(), 5);
    return model->state_dict();
  };
  const auto tuned = run(true);
  const auto plain = run(false);
  EXPECT_EQ(first_difference(tuned, plain), "");
}

TEST(LRFinder, StateShowsTuneWhileTuneRuns) {
  struct Recorder : L::Callback {
    std::vector<std::string> seen;
    void setup(L::Trainer& t, L::LightningModule&, const std::string& stage) override {
      seen.push_back("setup " + stage + " " + L::to_string(*t.state().fn) + " " + L::to_string(*t.state().stage));
    }
    void teardown(L::Trainer& t, L::LightningModule&, const std::string& stage) override {
      seen.push_back("teardown " + stage + " " + L::to_string(*t.state().fn) + " " + L::to_string(*t.state().stage));
    }
    void on_train_batch_start(L::Trainer&, L::LightningModule&, const L::Batch&, int64_t) override {
      seen.push_back("batch");
    }
  };
  struct Model : ScriptedLoss {
    Model() : ScriptedLoss({1.0}) {}
    std::set<std::string> states;
    L::StepOutput training_step(const L::Batch& b, int64_t i) override {
      states.insert(L::to_string(*trainer().state().fn) + "/" + L::to_string(*trainer().state().stage));
      return ScriptedLoss::training_step(b, i);
    }
  };
  TempDir dir;
  auto recorder = std::make_shared<Recorder>();
  auto logger = std::make_shared<RecordingLogger>();
  auto model = std::make_shared<Model>();
  L::Trainer trainer(quiet_in(dir, {.logger = logger, .callbacks = {recorder}, .auto_lr_find = true}));
  silenced([&] { trainer.tune(model, std::nullopt, {}, {}, {.num_training = 20}); });
  // Tuning sets up as "fit" (Lightning 1.x's `_setup_fn`); the trials train.
  EXPECT_EQ(recorder->seen, (std::vector<std::string>{"setup fit tune tune", "teardown fit tune tune"}));
  EXPECT_EQ(model->states, (std::set<std::string>{"tune/train"}));
  EXPECT_EQ(*trainer.state().fn, L::TrainerFn::Tuning);
  EXPECT_EQ(trainer.state().status, L::TrainerStatus::Finished);
  EXPECT_FALSE(trainer.state().stage);
  // Nothing was logged; the logger was closed.
  EXPECT_TRUE(logger->rows.empty());
  EXPECT_EQ(logger->hyperparams_calls, 0);
  EXPECT_EQ(logger->finalized, (std::vector<std::string>{"success"}));
  // Lightning 1.x: tune ran the finder once; the flag is off now, so a second tune does nothing.
  EXPECT_FALSE(trainer.tune(model).lr_find);
}

TEST(LRFinder, PlotWritesAnSvgWithAxesAndTheSuggestion) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(kRaw);
  L::Trainer trainer(quiet_in(dir));
  std::shared_ptr<L::tuner::LRFinder> finder;
  silenced([&] { finder = L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {}, {.min_lr = 1e-5, .num_training = 25}); });
  const auto path = finder->plot(/*suggest=*/true);
  EXPECT_EQ(path, dir.file("lr_find.svg"));  // the log folder: default_root_dir without a logger
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const auto svg = text.str();
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_TRUE(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(contains(svg, ">Learning rate</text>"));
  EXPECT_TRUE(contains(svg, ">Loss</text>"));
  EXPECT_TRUE(contains(svg, "<polyline points=\""));
  EXPECT_TRUE(contains(svg, "<circle id=\"suggestion\""));
  EXPECT_TRUE(contains(svg, "suggested lr = 0.003981"));
  // Log-scaled x axis: ticks at the powers of ten from 1e-5 to 1.
  EXPECT_TRUE(contains(svg, "10<tspan dy=\"-6\" font-size=\"9\">-5</tspan>"));
  EXPECT_TRUE(contains(svg, "10<tspan dy=\"-6\" font-size=\"9\">0</tspan>"));
  EXPECT_TRUE(contains(svg, "</svg>"));
  EXPECT_FALSE(L::detail::path_exists(path + ".tmp"));
  // Without `suggest`, no marker; an explicit path is used as given.
  const auto other = finder->plot(false, dir.file("plots/sweep.svg"));
  std::ifstream in2(other);
  std::stringstream text2;
  text2 << in2.rdbuf();
  EXPECT_FALSE(contains(text2.str(), "id=\"suggestion\""));
  EXPECT_TRUE(contains(text2.str(), ">Loss</text>"));
}

TEST(LRFinder, CallbackSetsTheLearningRateTheFitTrainsWith) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(kRaw);
  auto finder = std::make_shared<L::LearningRateFinder>(1e-5, 1.0, 25);
  auto counting = std::make_shared<CountingCallback>();
  L::Trainer trainer(quiet_in(dir, {.callbacks = {counting, finder}, .max_steps = 28}));
  silenced([&] { trainer.fit(model); });
  // Lightning's `_reorder_callbacks`: the finder runs first, whatever its place in the list.
  EXPECT_EQ(trainer.callbacks().front(), finder);
  EXPECT_EQ(counting->batches, 28);  // the sweep ran none of the other callbacks' hooks
  ASSERT_TRUE(finder->optimal_lr());
  EXPECT_EQ(model->hparams()["lr"].toDouble(), kLrs[12]);
  // 25 sweep steps, then 28 training steps at the suggestion (Lightning 2.6 updates the optimizer too).
  ASSERT_EQ(model->seen_lrs.size(), 53u);
  EXPECT_EQ(model->seen_lrs.back(), kLrs[12]);
  EXPECT_EQ(model->seen_lrs[25], kLrs[12]);
  EXPECT_EQ(trainer.global_step(), 28);
}

TEST(LRFinder, MisconfigurationsAreReported) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(std::vector<double>{1.0});
  L::Trainer trainer(quiet_in(dir));
  L::tuner::Tuner tuner(trainer);
  auto message = [&](L::tuner::LRFinderOptions o) { return error_of([&] { tuner.lr_find(model, std::nullopt, {}, o); }); };
  EXPECT_TRUE(contains(message({.method = "validate"}),
                       "method='validate' is invalid: method='fit' is the only valid configuration to run lr finder; "
                       "accepted: 'fit'"));
  EXPECT_TRUE(contains(message({.mode = "cubic"}),
                       "mode='cubic' is invalid for the learning rate finder; accepted: 'exponential', 'linear'"));
  EXPECT_TRUE(contains(message({.num_training = 0}), "num_training=0 is invalid; accepted: an int >= 1"));
  EXPECT_TRUE(contains(message({.min_lr = 1.0, .max_lr = 0.1}),
                       "min_lr=1 and max_lr=0.1 are invalid for mode='exponential'; accepted: 0 < min_lr < max_lr"));
  EXPECT_TRUE(contains(message({.early_stop_threshold = -1.0}), "early_stop_threshold=-1 is invalid"));
  EXPECT_TRUE(contains(message({.attr_name = "rate"}),
                       "The attribute name for the learning rate was set to rate, but could not find this as a field "
                       "in `model` or `model.hparams`"));
  EXPECT_TRUE(contains(error_of([] { L::LearningRateFinder(1e-8, 1.0, 100, "Cubic"); }),
                       "mode='cubic' is invalid for the learning rate finder"));
  // No lr / learning_rate attribute.
  auto bare = std::make_shared<BoringModel>();
  EXPECT_TRUE(contains(error_of([&] { tuner.lr_find(bare); }),
                       "When using the learning rate finder, either `model` or `model.hparams` should have one of "
                       "these fields: ('lr', 'learning_rate'). If your model has a different name for the learning "
                       "rate, set it with `.lr_find(attr_name=...)`"));
  // Two optimizers.
  struct TwoOptimizers : ScriptedLoss {
    TwoOptimizers() : ScriptedLoss({1.0}) {}
    L::OptimizerConfig configure_optimizers() override {
      return std::vector<std::shared_ptr<torch::optim::Optimizer>>{
          std::make_shared<torch::optim::SGD>(parameters(), 0.1), std::make_shared<torch::optim::SGD>(parameters(), 0.1)};
    }
  };
  auto two = std::make_shared<TwoOptimizers>();
  two->automatic_optimization = false;
  EXPECT_TRUE(contains(error_of([&] { tuner.lr_find(two); }),
                       "`model.configure_optimizers()` returned 2, but learning rate finder only works with single "
                       "optimizer"));
  // Already configured.
  L::Trainer with_finder(quiet_in(dir, {.callbacks = {std::make_shared<L::LearningRateFinder>()}}));
  EXPECT_TRUE(contains(error_of([&] { L::tuner::Tuner(with_finder).lr_find(model); }),
                       "Trainer is already configured with a `LearningRateFinder` callback. Please remove it if you "
                       "want to use the Tuner"));
  // Lightning 1.x's flag: an invalid name, a name the module lacks, and True without lr.
  EXPECT_TRUE(contains(error_of([&] { L::Trainer(quiet_in(dir, {.auto_lr_find = "my lr"})); }),
                       "auto_lr_find='my lr' is invalid; accepted: true, false, or the name (an identifier)"));
  L::Trainer named(quiet_in(dir, {.auto_lr_find = "rate"}));
  EXPECT_TRUE(contains(error_of([&] { named.tune(model); }),
                       "`auto_lr_find` was set to rate, however could not find this as a field in `model` or "
                       "`model.hparams`"));
  L::Trainer doubled(quiet_in(dir, {.callbacks = {std::make_shared<L::LearningRateFinder>()}, .auto_lr_find = true}));
  EXPECT_TRUE(contains(error_of([&] { doubled.tune(model); }),
                       "Trainer is already configured with a `LearningRateFinder` callback. Please remove it if you "
                       "want to use the Tuner; accepted: the auto_lr_find flag or a LearningRateFinder callback"));
  L::Trainer flagged(quiet_in(dir, {.auto_lr_find = true}));
  EXPECT_TRUE(contains(error_of([&] { flagged.tune(bare); }),
                       "When `auto_lr_find=True`, either `model` or `model.hparams` should have one of these fields: "
                       "('lr', 'learning_rate') overridden"));
  // fast_dev_run skips the finder with Lightning's warning.
  L::Trainer dev(quiet_in(dir, {.fast_dev_run = true}));
  std::shared_ptr<L::tuner::LRFinder> skipped;
  EXPECT_TRUE(contains(silenced([&] { skipped = L::tuner::Tuner(dev).lr_find(model); }),
                       "Skipping learning rate finder since `fast_dev_run` is enabled."));
  EXPECT_FALSE(skipped);
}

TEST(LRFinder, FindsTheLearningRateInAnExposedAttribute) {
  struct WithMember : ScriptedLoss, L::tuner::Attributes {
    double learning_rate = 0.5;
    WithMember() : ScriptedLoss(kRaw) { expose("learning_rate", learning_rate); }
  };
  TempDir dir;
  auto model = std::make_shared<WithMember>();
  L::Trainer trainer(quiet_in(dir));
  // "lr" is a hyperparameter too: Lightning takes the first of ("lr", "learning_rate") it finds.
  silenced([&] { L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {}, {.min_lr = 1e-5, .num_training = 25}); });
  EXPECT_EQ(model->hparams()["lr"].toDouble(), kLrs[12]);
  EXPECT_EQ(model->learning_rate, 0.5);
  model->calls = 0;
  silenced([&] {
    L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {},
                                     {.min_lr = 1e-5, .num_training = 25, .attr_name = "learning_rate"});
  });
  EXPECT_EQ(model->learning_rate, kLrs[12]);
  EXPECT_EQ(L::tuner::lightning_getattr(*model, "learning_rate").toDouble(), kLrs[12]);
}

TEST(LRFinder, ShowsAProgressBarWhileSweeping) {
  TempDir dir;
  auto model = std::make_shared<ScriptedLoss>(kRaw);
  L::TrainerOptions options = quiet_in(dir);
  options.enable_progress_bar = true;
  L::Trainer trainer(std::move(options));
  const auto printed = silenced([&] {
    L::tuner::Tuner(trainer).lr_find(model, std::nullopt, {}, {.min_lr = 1e-5, .num_training = 25});
  });
  // Not a terminal: tqdm-style lines every tenth of the sweep, the last at 25/25.
  EXPECT_TRUE(contains(printed, "Finding best initial lr:  40%"));
  EXPECT_TRUE(contains(printed, "Finding best initial lr: 100%"));
  EXPECT_TRUE(contains(printed, "25/25"));
  EXPECT_FALSE(contains(printed, "Epoch 0"));  // the trainer's bar is not drawn during the sweep
}
