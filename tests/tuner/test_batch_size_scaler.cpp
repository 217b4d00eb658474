// The batch-size scaler: Lightning's power and binsearch searches stopping at a simulated memory
// limit (a max_memory budget on the CPU allocator, or CUDA's out-of-memory error), at max_trials
// and at the dataset's length; the batch size found through hparams or exposed attributes; the
// state restored; the dataloaders rebuilt; and the errors.
#include <lightning/lightning.h>

#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/temp_dir.h"
#include "tuner/memory.h"
#include "tuner/tuner_helpers.h"

#include <lightning/utilities/torch_compat.h>

#include <gtest/gtest.h>

#include <c10/util/Exception.h>
#include <torch/optim/sgd.h>

namespace L = lightning;
using namespace lightning::testing;

namespace {

constexpr int64_t kPerSample = 256 * 1024;  // what Sized's training step holds per sample

/// The batch size is `hparams()["batch_size"]`, read by its train_dataloader hook. Its training
/// step holds `kPerSample` bytes per sample (with `memory_hungry`), or fails as CUDA does above
/// `cuda_oom_above` samples. No validation.
struct Sized : BoringModel {
  std::shared_ptr<L::TensorDataset> data;
  std::vector<int64_t> sizes;  // the batch size of every training step
  bool memory_hungry = false;
  std::optional<int64_t> cuda_oom_above;
  std::optional<int64_t> fail_above;
  explicit Sized(int64_t samples = 256, int64_t batch_size = 8) : data(random_dataset(samples)) {
    save_hyperparameters({{"batch_size", batch_size}, {"lr", 0.1}});
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(data, {.batch_size = hparams()["batch_size"].toInt()});
  }
  L::DataLoaders val_dataloader() override { return {}; }
  L::StepOutput training_step(const L::Batch& b, int64_t i) override {
    const int64_t n = b[0].size(0);
    sizes.push_back(n);
    if (cuda_oom_above && n > *cuda_oom_above)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.35 GiB total)");
    if (fail_above && n > *fail_above) throw std::runtime_error("boom");
    torch::Tensor activations;
    if (memory_hungry) activations = torch::empty({n * kPerSample / 4});
    return BoringModel::training_step(b, i);
  }
};

L::TrainerOptions quiet_in(const TempDir& dir, L::TrainerOptions o = {}) {
  o.default_root_dir = dir.str();
  if (!o.max_epochs) o.max_epochs = 1000;
  return quiet(std::move(o));
}

std::vector<int64_t> repeated(std::initializer_list<int64_t> sizes, int times = 3) {
  std::vector<int64_t> out;
  for (auto s : sizes)
    for (int i = 0; i < times; ++i) out.push_back(s);
  return out;
}

}  // namespace

TEST(BatchSizeScaler, PowerStopsAtASimulatedMemoryLimit) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  model->memory_hungry = true;
  const auto weights = deep_clone(model->state_dict());
  L::Trainer trainer(quiet_in(dir));
  std::optional<int64_t> found;
  const auto printed = silenced([&] {
    found = L::tuner::Tuner(trainer).scale_batch_size(model, std::nullopt, {}, {.max_memory = 48 * kPerSample});
  });
  // 2..32 samples fit in 48 x 256 KiB; 64 do not, so the search halves back to 32.
  EXPECT_EQ(found, 32);
  auto expected = repeated({2, 4, 8, 16, 32});
  expected.push_back(64);  // fails at its first step
  EXPECT_EQ(model->sizes, expected);
  EXPECT_EQ(model->hparams()["batch_size"].toInt(), 32);
  EXPECT_TRUE(contains(printed, "Batch size 2 succeeded, trying batch size 4"));
  EXPECT_TRUE(contains(printed, "Batch size 32 succeeded, trying batch size 64"));
  EXPECT_TRUE(contains(printed, "Batch size 64 failed, trying batch size 32"));
  EXPECT_TRUE(contains(printed, "Finished batch size finder, will continue with full run using batch size 32"));
  // The trials trained; the weights are back.
  EXPECT_EQ(first_difference(weights, model->state_dict()), "");
  EXPECT_EQ(trainer.global_step(), 0);
  EXPECT_TRUE(trainer.state().fn == L::TrainerFn::Fitting);  // Tuner: plain fits, as Lightning 2.x
  EXPECT_TRUE(trainer.state().finished());
}

TEST(BatchSizeScaler, BinsearchRefinesBetweenTheLastFitAndTheFirstFailure) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  model->memory_hungry = true;
  L::Trainer trainer(quiet_in(dir, {.auto_scale_batch_size = "binsearch"}));
  L::tuner::TuneResult result;
  const auto printed = silenced([&] { result = trainer.tune(model, std::nullopt, {}, {.max_memory = 48 * kPerSample}); });
  // 64 fails, 48 needs exactly the budget plus the batch itself: fails; 40, 44, 46, 47 fit.
  EXPECT_EQ(result.scale_batch_size, 47);
  EXPECT_FALSE(result.lr_find);
  auto expected = repeated({2, 4, 8, 16, 32});
  for (int64_t s : {64, 48}) expected.push_back(s);
  for (int64_t s : repeated({40, 44, 46, 47})) expected.push_back(s);
  EXPECT_EQ(model->sizes, expected);
  EXPECT_TRUE(contains(printed, "Batch size 64 failed, trying batch size 48"));
  EXPECT_TRUE(contains(printed, "Batch size 48 failed, trying batch size 40"));
  EXPECT_TRUE(contains(printed, "Batch size 46 succeeded, trying batch size 47"));
  EXPECT_EQ(model->hparams()["batch_size"].toInt(), 47);
  EXPECT_TRUE(trainer.state().fn == L::TrainerFn::Tuning);
}

TEST(BatchSizeScaler, StopsAtMaxTrials) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  L::Trainer trainer(quiet_in(dir));
  std::optional<int64_t> found;
  silenced([&] { found = L::tuner::Tuner(trainer).scale_batch_size(model, std::nullopt, {}, {.max_trials = 3}); });
  // Lightning's answer: the size after the last increase, which no trial ran.
  EXPECT_EQ(found, 16);
  EXPECT_EQ(model->sizes, repeated({2, 4, 8}));
}

TEST(BatchSizeScaler, StopsAtTheDatasetLength) {
  TempDir dir;
  auto model = std::make_shared<Sized>(/*samples=*/20);
  L::Trainer trainer(quiet_in(dir));
  std::optional<int64_t> found;
  const auto printed = silenced([&] { found = L::tuner::Tuner(trainer).scale_batch_size(model); });
  EXPECT_EQ(found, 32);
  // 3 steps per trial, the epoch's last batch partial; a batch of 32 holds the 20 samples.
  EXPECT_EQ(model->sizes, (std::vector<int64_t>{2, 2, 2, 4, 4, 4, 8, 8, 4, 16, 4, 16, 20, 20, 20}));
  EXPECT_TRUE(contains(printed, "The batch size 32 is greater or equal than the length of your dataset."));
}

TEST(BatchSizeScaler, RecoversFromCudaOutOfMemory) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  model->cuda_oom_above = 24;
  L::Trainer trainer(quiet_in(dir, {.auto_scale_batch_size = true}));
  L::tuner::TuneResult result;
  const auto printed = silenced([&] { result = trainer.tune(model); });
  EXPECT_EQ(result.scale_batch_size, 16);
  EXPECT_TRUE(contains(printed, "Batch size 32 failed, trying batch size 16"));
  // Without one success first, power mode keeps halving.
  auto small = std::make_shared<Sized>();
  small->cuda_oom_above = 1;
  L::Trainer again(quiet_in(dir));
  std::optional<int64_t> found;
  silenced([&] { found = L::tuner::Tuner(again).scale_batch_size(small, std::nullopt, {}, {.init_val = 4}); });
  EXPECT_EQ(found, 1);
  // 4 and 2 fail, 1 fits, then 2 fails again: back to 1.
  EXPECT_EQ(small->sizes, (std::vector<int64_t>{4, 2, 1, 1, 1, 2}));
}

TEST(BatchSizeScaler, OtherErrorsPropagateAndTheTrainerIsRestored) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  model->fail_above = 8;
  auto counter = std::make_shared<L::Callback>();
  L::Trainer trainer(quiet_in(dir, {.callbacks = {counter}}));
  EXPECT_EQ(error_of<std::runtime_error>([&] { silenced([&] { L::tuner::Tuner(trainer).scale_batch_size(model); }); }),
            "boom");
  // The trial's callbacks and the Tuner's finder are gone; the user's callback is back.
  ASSERT_EQ(trainer.callbacks().size(), 1u);
  EXPECT_EQ(trainer.callbacks().front(), counter);
  EXPECT_TRUE(trainer.interrupted());
}

namespace {

/// Checks from inside the fit that a search leaves the checkpointed state as it found it (the
/// batch size hyperparameter aside), then the fit trains at the size found.
struct ProbeFinder : L::BatchSizeFinder {
  using L::BatchSizeFinder::BatchSizeFinder;
  std::string difference = "not run";
  bool same_state = false;
  void on_fit_start(L::Trainer& t, L::LightningModule& m) override {
    const auto before = deep_clone(t.dump_checkpoint());
    const auto state = t.state();
    scale_batch_size(t, m);
    difference = first_difference(before, t.dump_checkpoint(), "", {"hyper_parameters"});
    same_state = t.state().fn == state.fn && t.state().stage == state.stage && t.global_step() == 0 &&
                 t.current_epoch() == 0 && !t.should_stop;
  }
};

struct StatefulSized : Sized {
  StatefulSized() { memory_hungry = true; }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    return {opt, L::LRSchedulerConfig{.scheduler = std::make_shared<L::optim::StepLR>(opt, 2, 0.5), .interval = "step"}};
  }
};

}  // namespace

TEST(BatchSizeScaler, CallbackRestoresTheStateAndTheFitUsesTheSizeFound) {
  TempDir dir;
  L::seed_everything(11);
  auto model = std::make_shared<StatefulSized>();
  auto probe = std::make_shared<ProbeFinder>("power", 3, 2, 25, "batch_size", 48 * kPerSample);
  L::Trainer trainer(quiet_in(dir, {.callbacks = {probe}, .max_steps = 2}));
  silenced([&] { trainer.fit(model); });
  EXPECT_EQ(probe->difference, "");
  EXPECT_TRUE(probe->same_state);
  EXPECT_EQ(probe->optimal_batch_size(), 32);
  // The dataloader was rebuilt at the size found, and the fit's two steps ran with it.
  ASSERT_TRUE(trainer.train_dataloader());
  EXPECT_EQ(trainer.train_dataloader()->options().batch_size, 32);
  EXPECT_EQ(std::vector<int64_t>(model->sizes.end() - 2, model->sizes.end()), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(trainer.global_step(), 2);
}

TEST(BatchSizeScaler, FindsTheBatchSizeInModuleAndDatamoduleAttributes) {
  struct Data : L::LightningDataModule, L::tuner::Attributes {
    int64_t batch_size = 4;
    std::shared_ptr<L::TensorDataset> data = random_dataset(64);
    Data() { expose("batch_size", batch_size); }
    L::DataLoaders train_dataloader() override { return L::DataLoader(data, {.batch_size = batch_size}); }
  };
  struct Model : BoringModel, L::tuner::Attributes {
    int64_t batch_size = 16;
    std::vector<int64_t> sizes;
    Model() { expose("batch_size", batch_size); }
    L::StepOutput training_step(const L::Batch& b, int64_t i) override {
      sizes.push_back(b[0].size(0));
      return BoringModel::training_step(b, i);
    }
  };
  auto model = std::make_shared<Model>();
  auto data = std::make_shared<Data>();
  // Lightning's lookup: the last holder (the datamodule's) is read, every holder is written.
  EXPECT_EQ(L::tuner::lightning_getattr(*model, "batch_size", data.get()).toInt(), 4);
  EXPECT_EQ(L::tuner::lightning_getattr(*model, "batch_size").toInt(), 16);
  L::tuner::lightning_setattr(*model, "batch_size", int64_t{6}, data.get());
  EXPECT_EQ(model->batch_size, 6);
  EXPECT_EQ(data->batch_size, 6);
  EXPECT_FALSE(L::tuner::lightning_hasattr(*model, "bs", data.get()));
  EXPECT_TRUE(contains(error_of([&] { L::tuner::lightning_getattr(*model, "bs"); }),
                       "bs is neither stored in the model namespace nor the `hparams` namespace/dict, nor the datamodule"));

  TempDir dir;
  L::Trainer trainer(quiet_in(dir));
  std::optional<int64_t> found;
  silenced([&] { found = L::tuner::Tuner(trainer).scale_batch_size(model, data, {.max_trials = 2}); });
  EXPECT_EQ(found, 8);
  EXPECT_EQ(data->batch_size, 8);
  EXPECT_EQ(model->batch_size, 8);
  EXPECT_EQ(model->sizes, repeated({2, 4}));  // the datamodule's loader, rebuilt per trial

  // Both an attribute and a hyperparameter of the module: Lightning's warning.
  model->save_hyperparameters({{"batch_size", 16}});
  L::Trainer warned(quiet_in(dir));
  EXPECT_TRUE(contains(silenced([&] { L::tuner::Tuner(warned).scale_batch_size(model, data, {.max_trials = 1}); }),
                       "Field `model.batch_size` and `model.hparams.batch_size` are mutually exclusive!"));
}

TEST(BatchSizeScaler, RejectsDataloadersPassedDirectlyAndOtherMisconfigurations) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  const std::string direct =
      "The Batch size finder cannot be used with dataloaders passed directly to `.fit()`. Please disable the feature "
      "or incorporate the dataloader into your LightningModule or LightningDataModule";
  L::Trainer trainer(quiet_in(dir));
  L::tuner::Tuner tuner(trainer);
  EXPECT_TRUE(contains(error_of([&] { tuner.scale_batch_size(model, random_loader(64, 4)); }), direct));
  L::Trainer flagged(quiet_in(dir, {.auto_scale_batch_size = "power"}));
  EXPECT_TRUE(contains(error_of([&] { flagged.tune(model, random_loader(64, 4)); }), direct));
  // The flag and the options.
  EXPECT_TRUE(contains(error_of([&] { L::Trainer(quiet_in(dir, {.auto_scale_batch_size = "huge"})); }),
                       "auto_scale_batch_size='huge' is invalid; accepted: true, false, 'power', 'binsearch'"));
  EXPECT_TRUE(contains(error_of([] { L::BatchSizeFinder("Huge"); }),
                       "mode='huge' is invalid for the batch size scaler; accepted: 'power', 'binsearch'"));
  auto message = [&](L::tuner::BatchSizeScalerOptions o) {
    return error_of([&] { tuner.scale_batch_size(model, std::nullopt, {}, o); });
  };
  EXPECT_TRUE(contains(message({.method = "test"}), "method='test' is invalid for the batch size scaler; accepted: 'fit'"));
  EXPECT_TRUE(contains(message({.steps_per_trial = 0}), "steps_per_trial=0 is invalid; accepted: an int >= 1"));
  EXPECT_TRUE(contains(message({.init_val = 0}), "init_val=0 is invalid; accepted: an int >= 1"));
  EXPECT_TRUE(contains(message({.max_memory = 0}), "max_memory=0 is invalid; accepted: a number of bytes > 0"));
  EXPECT_TRUE(contains(message({.batch_arg_name = "bs"}),
                       "Field bs not found in `model`, `datamodule`, nor their `hparams` attributes"));
  L::Trainer with_finder(quiet_in(dir, {.callbacks = {std::make_shared<L::BatchSizeFinder>()}}));
  EXPECT_TRUE(contains(error_of([&] { L::tuner::Tuner(with_finder).scale_batch_size(model); }),
                       "Trainer is already configured with a `BatchSizeFinder` callback. Please remove it if you want "
                       "to use the Tuner"));
  // Even batch size 1 out of memory.
  auto hopeless = std::make_shared<Sized>();
  hopeless->cuda_oom_above = 0;
  L::Trainer failing(quiet_in(dir));
  EXPECT_TRUE(contains(error_of([&] { silenced([&] { L::tuner::Tuner(failing).scale_batch_size(hopeless); }); }),
                       "Batch size 1 failed with an out-of-memory error and there is no smaller one to try"));
  // fast_dev_run skips the scaler with Lightning's warning.
  L::Trainer dev(quiet_in(dir, {.fast_dev_run = true}));
  std::optional<int64_t> skipped = 1;
  EXPECT_TRUE(contains(silenced([&] { skipped = L::tuner::Tuner(dev).scale_batch_size(model); }),
                       "Skipping batch size scaler since `fast_dev_run` is enabled."));
  EXPECT_FALSE(skipped);
}

TEST(BatchSizeScaler, TuneScalesThenFindsTheLearningRateAtTheNewSize) {
  TempDir dir;
  auto model = std::make_shared<Sized>();
  model->memory_hungry = true;
  L::Trainer trainer(quiet_in(dir, {.auto_scale_batch_size = "power", .auto_lr_find = true}));
  L::tuner::TuneResult result;
  silenced([&] { result = trainer.tune(model, std::nullopt, {}, {.max_memory = 48 * kPerSample}, {.num_training = 20}); });
  EXPECT_EQ(result.scale_batch_size, 32);
  ASSERT_TRUE(result.lr_find);
  // The sweep's 20 steps ran with the batch size found.
  EXPECT_EQ(std::vector<int64_t>(model->sizes.end() - 20, model->sizes.end()), std::vector<int64_t>(20, 32));
  EXPECT_EQ(model->hparams()["batch_size"].toInt(), 32);
  EXPECT_EQ(model->hparams()["lr"].toDouble(), *result.lr_find->suggestion());
}

TEST(BatchSizeScaler, CpuBudgetCountsLiveAllocationsOfItsLifetime) {
  auto before = torch::empty({1 << 18});  // allocated before: not counted
  {
    L::tuner::detail::CPUMemoryBudget budget(1 << 20);
    auto a = torch::empty({1 << 17});  // 512 KiB
    EXPECT_GE(budget.peak_bytes(), 1 << 19);
    EXPECT_THROW(torch::empty({1 << 18}), c10::OutOfMemoryError);  // 512 KiB + 1 MiB > 1 MiB
    before.reset();                                                // freeing older memory does not count
    a.reset();
    auto b = torch::empty({1 << 18});  // 1 MiB: fits once `a` is freed
    EXPECT_EQ(budget.peak_bytes(), 1 << 20);
  }
  EXPECT_NO_THROW(torch::empty({1 << 20}));  // no budget any more
}

TEST(BatchSizeScaler, RecognisesLightningsOutOfMemoryErrors) {
  using L::tuner::detail::is_oom_error;
  EXPECT_TRUE(is_oom_error(std::runtime_error("CUDA out of memory. Tried to allocate 20.00 MiB")));
  EXPECT_TRUE(is_oom_error(std::runtime_error("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear")));
  EXPECT_TRUE(is_oom_error(std::runtime_error(std::string(L::compat::kCpuOutOfMemoryMessage) + ": you tried")));
  try {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "out of memory");
  } catch (const std::exception& e) {
    EXPECT_TRUE(is_oom_error(e));
  }
  EXPECT_FALSE(is_oom_error(std::runtime_error("CUDA error: an illegal memory access was encountered")));
  EXPECT_FALSE(is_oom_error(L::MisconfigurationException("max_epochs=-2 is invalid")));
}

TEST(Tuner, RemovesItsFindersAndTheNextFitTrainsWithWhatTheyFound) {
  struct Model : Sized {
    std::vector<double> lrs;
    L::StepOutput training_step(const L::Batch& b, int64_t i) override {
      lrs.push_back(optimizers()[0]->param_groups()[0].options().get_lr());
      return Sized::training_step(b, i);
    }
    L::OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(hparams()["lr"].toDouble()));
    }
  };
  TempDir dir;
  auto model = std::make_shared<Model>();
  model->memory_hungry = true;
  L::Trainer trainer(quiet_in(dir, {.max_steps = 2}));
  L::tuner::Tuner tuner(trainer);
  std::optional<int64_t> size;
  std::shared_ptr<L::tuner::LRFinder> finder;
  silenced([&] {
    size = tuner.scale_batch_size(model, std::nullopt, {}, {.max_memory = 48 * kPerSample});
    finder = tuner.lr_find(model, std::nullopt, {}, {.num_training = 20});
  });
  EXPECT_TRUE(trainer.callbacks().empty());
  ASSERT_EQ(size, 32);
  ASSERT_TRUE(finder && finder->suggestion());
  model->sizes.clear();
  model->lrs.clear();
  model->memory_hungry = false;
  silenced([&] { trainer.fit(model); });
  EXPECT_EQ(model->sizes, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(model->lrs, (std::vector<double>(2, *finder->suggestion())));
  EXPECT_TRUE(trainer.callbacks().empty());
}

TEST(Tuner, TuneWithoutFlagsRunsNothingAndTuneTakesADatamodule) {
  struct Data : L::LightningDataModule, L::tuner::Attributes {
    int64_t batch_size = 4;
    std::vector<std::string> stages;
    std::shared_ptr<L::TensorDataset> data = random_dataset(64);
    Data() { expose("batch_size", batch_size); }
    void setup(const std::string& stage) override { stages.push_back(stage); }
    L::DataLoaders train_dataloader() override { return L::DataLoader(data, {.batch_size = batch_size}); }
  };
  TempDir dir;
  auto model = std::make_shared<BoringModel>();
  auto data = std::make_shared<Data>();
  L::Trainer idle(quiet_in(dir));
  const auto nothing = idle.tune(model, data);
  EXPECT_FALSE(nothing.lr_find);
  EXPECT_FALSE(nothing.scale_batch_size);
  EXPECT_FALSE(idle.state().fn);
  EXPECT_TRUE(data->stages.empty());
  L::Trainer trainer(quiet_in(dir, {.auto_scale_batch_size = true}));
  L::tuner::TuneResult result;
  silenced([&] { result = trainer.tune(model, data, {.max_trials = 3}); });
  EXPECT_EQ(result.scale_batch_size, 16);
  EXPECT_EQ(data->batch_size, 16);
  EXPECT_EQ(data->stages, (std::vector<std::string>{"fit"}));  // set up once, as for fit
  EXPECT_TRUE(contains(error_of([&] { trainer.tune(model, std::shared_ptr<L::LightningDataModule>()); }),
                       "tune: datamodule is null"));
}
