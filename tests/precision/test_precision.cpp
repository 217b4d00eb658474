// Precision plugins: flag forms and errors, the GradScaler's logic on CPU tensors, bf16-mixed
// autocast, the "-true" precisions, the scaler's checkpoint state, and CUDA-only paths.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <lightning/checkpoint/serialization.h>
#include <lightning/precision/precision.h>
#include <lightning/utilities/torch_compat.h>

#include <torch/cuda.h>
#include <torch/nn/modules/batchnorm.h>

#include <gtest/gtest.h>

#include <limits>

using namespace lightning;
using namespace lightning::testing;
using plugins::GradScaler;

namespace {

std::shared_ptr<torch::optim::SGD> sgd_of(torch::Tensor& param) {
  return std::make_shared<torch::optim::SGD>(std::vector<torch::Tensor>{param}, torch::optim::SGDOptions(1.0));
}

}  // namespace

TEST(Precision, FlagFormsAndErrors) {
  EXPECT_EQ(plugins::resolve_precision("16"), "16-mixed");
  EXPECT_EQ(plugins::resolve_precision("bf16"), "bf16-mixed");
  EXPECT_EQ(plugins::resolve_precision("32"), "32-true");
  EXPECT_EQ(plugins::resolve_precision("64"), "64-true");
  EXPECT_EQ(plugins::resolve_precision("bf16-true"), "bf16-true");
  for (PrecisionInput ok : {PrecisionInput(64), PrecisionInput(32), PrecisionInput("bf16"), PrecisionInput("bf16-mixed"),
                            PrecisionInput("64-true"), PrecisionInput("bf16-true")})
    EXPECT_NO_THROW(Trainer t({.accelerator = "cpu", .precision = ok})) << ok.value;
  EXPECT_TRUE(contains(error_of([] { Trainer t({.precision = "fp8"}); }), "precision='fp8' is invalid"));
  auto err = error_of([] { Trainer t({.accelerator = "cpu", .precision = 16}); });
  EXPECT_TRUE(contains(err, "`Trainer(accelerator='cpu', precision='16')` is not supported")) << err;
  EXPECT_TRUE(contains(error_of([] { Trainer t({.accelerator = "cpu", .precision = "16-mixed"}); }), "bf16-mixed"));
  // 16-true on the CPU needs float16 matmul kernels, which LibTorch 1.13 lacks.
  bool half_mm = true;
  try {
    torch::mm(torch::ones({1, 1}, torch::kHalf), torch::ones({1, 1}, torch::kHalf));
  } catch (const c10::Error&) {
    half_mm = false;
  }
  auto half = error_of([] { Trainer t({.accelerator = "cpu", .precision = "16-true"}); });
  if (half_mm)
    EXPECT_EQ(half, "<no exception>");
  else
    EXPECT_TRUE(contains(half, "no float16 matrix multiply")) << half;
}

TEST(GradScaler, ScalesUnscalesAndStepsOnFiniteGradients) {
  auto p = torch::ones({2}, torch::requires_grad());
  auto opt = sgd_of(p);
  GradScaler scaler({.init_scale = 8.0, .growth_interval = 2});
  auto loss = (p * torch::tensor({1.0f, 2.0f})).sum();
  auto scaled = scaler.scale(loss);
  EXPECT_FLOAT_EQ(scaled.item<float>(), 24.0f);
  scaled.backward();
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({8.0f, 16.0f})));
  scaler.unscale_(*opt);
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({1.0f, 2.0f})));
  EXPECT_TRUE(contains(error_of([&] { scaler.unscale_(*opt); }), "already been called"));
  EXPECT_TRUE(scaler.step(*opt));
  EXPECT_TRUE(torch::equal(p.detach(), torch::tensor({0.0f, -1.0f})));
  scaler.update();
  EXPECT_EQ(scaler.growth_tracker(), 1);
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 8.0);
  // The second finite step in a row grows the scale.
  p.mutable_grad() = torch::full({2}, 8.0f);
  EXPECT_TRUE(scaler.step(*opt));  // unscales by itself
  scaler.update();
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 16.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, SkipsTheStepAndBacksOffOnInfOrNan) {
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    auto p = torch::ones({2}, torch::requires_grad());
    auto opt = sgd_of(p);
    GradScaler scaler({.init_scale = 1024.0});
    p.mutable_grad() = torch::tensor({1.0f, bad});
    EXPECT_FALSE(scaler.step(*opt));
    EXPECT_TRUE(torch::equal(p.detach(), torch::ones({2})));  // not updated
    scaler.update();
    EXPECT_DOUBLE_EQ(scaler.get_scale(), 512.0);
    EXPECT_EQ(scaler.growth_tracker(), 0);
  }
}

TEST(GradScaler, StateDictHasPyTorchKeysAndRoundTrips) {
  GradScaler a({.init_scale = 4096.0, .growth_interval = 3});
  auto p = torch::ones({1}, torch::requires_grad());
  auto opt = sgd_of(p);
  p.mutable_grad() = torch::ones({1});
  a.step(*opt);
  a.update();
  auto state = a.state_dict();
  std::set<std::string> keys;
  for (const auto& e : state) keys.insert(e.key().toStringRef());
  EXPECT_EQ(keys, (std::set<std::string>{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}));
  GradScaler b;
  b.load_state_dict(state);
  EXPECT_DOUBLE_EQ(b.get_scale(), 4096.0);
  EXPECT_EQ(b.growth_tracker(), 1);
  GradScaler disabled({.enabled = false});
  EXPECT_TRUE(disabled.state_dict().empty());
  EXPECT_DOUBLE_EQ(disabled.get_scale(), 1.0);
  EXPECT_TRUE(torch::equal(disabled.scale(torch::ones({1})), torch::ones({1})));
}

namespace {

struct DtypeProbe : BoringModel {
  std::vector<torch::Dtype> output_dtypes, input_dtypes, param_dtypes;
  StepOutput training_step(const Batch& b, int64_t i) override {
    input_dtypes.push_back(b[0].scalar_type());
    output_dtypes.push_back(layer->forward(b[0]).scalar_type());
    param_dtypes.push_back(layer->weight.scalar_type());
    return layer->forward(b[0]).sum();
  }
};

std::shared_ptr<DtypeProbe> fit_with(PrecisionInput precision) {
  auto model = std::make_shared<DtypeProbe>();
  Trainer trainer(quiet({.accelerator = "cpu", .precision = precision, .max_epochs = 1, .limit_train_batches = 2,
                         .limit_val_batches = 0}));
  trainer.fit(model);
  return model;
}

}  // namespace

TEST(Precision, Bf16MixedAutocastsOnCpuAndKeepsFloatParameters) {
  auto model = fit_with("bf16-mixed");
  ASSERT_EQ(model->output_dtypes.size(), 2u);
  EXPECT_EQ(model->output_dtypes[0], torch::kBFloat16);
  EXPECT_EQ(model->param_dtypes[0], torch::kFloat32);
  EXPECT_EQ(model->input_dtypes[0], torch::kFloat32);
  EXPECT_FALSE(compat::autocast_enabled(/*cuda=*/false));  // restored after the step
  EXPECT_EQ(fit_with(32)->output_dtypes[0], torch::kFloat32);
}

TEST(Precision, TruePrecisionsConvertParametersAndInputs) {
  auto f64 = fit_with("64-true");
  EXPECT_EQ(f64->param_dtypes[0], torch::kFloat64);
  EXPECT_EQ(f64->input_dtypes[0], torch::kFloat64);
  EXPECT_EQ(f64->output_dtypes[0], torch::kFloat64);
  auto bf16 = fit_with("bf16-true");
  EXPECT_EQ(bf16->param_dtypes[0], torch::kBFloat16);
  EXPECT_EQ(bf16->input_dtypes[0], torch::kBFloat16);
}

TEST(Precision, SixteenMixedScalerClipsUnscaledGradientsAndSavesItsState) {
  // The 16-mixed plugin on CPU (autocast to fp16 is CUDA-only, so the forward stays fp32):
  // scaling by a power of two and unscaling is exact, so with value clipping the weights equal
  // those of 32-true — clipping saw unscaled gradients.
  auto run = [](std::vector<std::shared_ptr<plugins::Plugin>> plugins) {
    torch::manual_seed(4);
    auto model = std::make_shared<BoringModel>();
    auto data = random_dataset(16);
    Trainer trainer(quiet({.accelerator = "cpu", .max_epochs = 1, .limit_val_batches = 0, .gradient_clip_val = 1e-3,
                           .gradient_clip_algorithm = "value", .plugins = std::move(plugins)}));
    trainer.fit(model, DataLoader(data, {.batch_size = 4}));
    return std::make_pair(model, trainer.dump_checkpoint());
  };
  auto [fp32, fp32_ckpt] = run({});
  auto [amp, amp_ckpt] = run({std::make_shared<plugins::Precision>("16-mixed")});
  EXPECT_TRUE(torch::equal(fp32->layer->weight, amp->layer->weight));
  EXPECT_FALSE(fp32_ckpt.contains("MixedPrecision"));
  auto state = amp_ckpt.at("MixedPrecision").toGenericDict();
  EXPECT_DOUBLE_EQ(state.at("scale").toDouble(), 65536.0);
  EXPECT_EQ(state.at("_growth_tracker").toInt(), 4);
  EXPECT_EQ(state.at("growth_interval").toInt(), 2000);
}

TEST(Precision, SixteenMixedTrainsWithHalfAutocast_CUDA) {
  struct Probe : BoringModel {
    torch::Dtype seen = torch::kFloat;
    StepOutput training_step(const Batch& b, int64_t) override {
      seen = layer->forward(b[0]).scalar_type();
      // Small enough that 2^16 times its gradients fits float16: no step is skipped, whatever
      // the random data (BoringModel's own loss overflows float16 at the initial scale on most batches).
      return step(b[0]) * 1e-3;
    }
  };
  auto model = std::make_shared<Probe>();
  Trainer trainer(quiet({.accelerator = "gpu", .precision = "16-mixed", .max_epochs = 1, .limit_train_batches = 4,
                         .limit_val_batches = 0}));
  trainer.fit(model);
  EXPECT_EQ(model->seen, torch::kHalf);
  EXPECT_EQ(model->layer->weight.scalar_type(), torch::kFloat);
  auto state = trainer.dump_checkpoint().at("MixedPrecision").toGenericDict();
  EXPECT_EQ(state.at("_growth_tracker").toInt(), 4);
}

TEST(Precision, Bf16MixedAutocastsOnGpu_CUDA) {
  auto model = std::make_shared<DtypeProbe>();
  Trainer trainer(quiet({.accelerator = "gpu", .precision = "bf16-mixed", .max_epochs = 1, .limit_train_batches = 2,
                         .limit_val_batches = 0}));
  trainer.fit(model);
  EXPECT_EQ(model->output_dtypes[0], torch::kBFloat16);
  EXPECT_EQ(model->param_dtypes[0], torch::kFloat32);
  EXPECT_FALSE(compat::autocast_enabled(/*cuda=*/true));
}

TEST(Precision, TruePrecisionsLeaveIntegerBuffersAlone) {
  // As PyTorch's module.to(dtype): BatchNorm's num_batches_tracked stays an int64 count.
  torch::nn::BatchNorm1d norm(3);
  plugins::Precision("bf16-true").convert_module(*norm);
  EXPECT_EQ(norm->weight.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(norm->running_mean.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(norm->num_batches_tracked.scalar_type(), torch::kLong);
}

TEST(Precision, SixteenMixedScalerResumesFromLightning2xOr1xKey) {
  // Lightning 2.x writes the scaler's state under its plugin's class name, "MixedPrecision", and
  // still reads 1.x's "native_amp_scaling_state"; a checkpoint with neither starts afresh.
  TempDir dir;
  auto data = random_dataset(16);
  auto amp = [] { return std::vector<std::shared_ptr<plugins::Plugin>>{std::make_shared<plugins::Precision>("16-mixed")}; };
  Trainer first(quiet({.accelerator = "cpu", .max_epochs = 1, .limit_val_batches = 0, .plugins = amp()}));
  first.fit(std::make_shared<BoringModel>(), DataLoader(data, {.batch_size = 4}));
  const std::string saved = dir.str() + "/2x.ckpt";
  first.save_checkpoint(saved);
  auto checkpoint = torch_load(saved).toGenericDict();
  ASSERT_TRUE(checkpoint.contains("MixedPrecision"));
  auto state = checkpoint.at("MixedPrecision");
  ASSERT_EQ(checkpoint.erase("MixedPrecision"), 1u);
  torch_save(checkpoint, dir.str() + "/none.ckpt");
  checkpoint.insert("native_amp_scaling_state", state);
  torch_save(checkpoint, dir.str() + "/1x.ckpt");

  struct Seen : Callback {
    int64_t growth_tracker = -1;
    void on_train_start(Trainer& trainer, LightningModule&) override {
      growth_tracker = trainer.precision_plugin().scaler()->state_dict().at("_growth_tracker").toInt();
    }
  };
  auto resumed = [&](const std::string& name) {
    auto seen = std::make_shared<Seen>();
    Trainer trainer(quiet({.accelerator = "cpu", .callbacks = {seen}, .max_epochs = 2, .limit_val_batches = 0,
                           .plugins = amp()}));
    trainer.fit(std::make_shared<BoringModel>(), DataLoader(data, {.batch_size = 4}), {}, dir.str() + "/" + name);
    return seen->growth_tracker;
  };
  EXPECT_EQ(resumed("2x.ckpt"), 4);
  EXPECT_EQ(resumed("1x.ckpt"), 4);
  EXPECT_EQ(resumed("none.ckpt"), 0);
}
