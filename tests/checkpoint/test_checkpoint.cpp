// The checkpoint dictionary: module and optimizer state dicts in PyTorch's layout, Python
// reading our checkpoints, hooks and datamodule state.
#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/python.h"

#include <torch/nn/modules/container/functional.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

using namespace lightning;
using namespace lightning::testing;

namespace {

using OptimizerFactory = std::function<std::shared_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>;

/// Steps `optimizer` on a fixed quadratic loss.
void train_steps(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& params, int steps) {
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    torch::Tensor loss = torch::zeros({});
    for (const auto& p : params) loss = loss + (p * p).sum() + p.sum() * 0.1 * (i + 1);
    loss.backward();
    optimizer.step([&] { return loss; });
  }
}

std::vector<torch::Tensor> make_params() {
  torch::manual_seed(3);
  return {torch::randn({4, 3}).requires_grad_(), torch::randn({3}).requires_grad_()};
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

}  // namespace

TEST(Checkpoint, OptimizerStatesRoundTripThroughFiles) {
  TempDir dir;
  const std::vector<std::pair<std::string, OptimizerFactory>> cases{
      {"SGD", [](auto p) { return std::make_shared<torch::optim::SGD>(p, torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true)); }},
      {"Adam", [](auto p) { return std::make_shared<torch::optim::Adam>(p, torch::optim::AdamOptions(0.01).amsgrad(true)); }},
      {"AdamW", [](auto p) { return std::make_shared<torch::optim::AdamW>(p, torch::optim::AdamWOptions(0.01)); }},
      {"RMSprop", [](auto p) { return std::make_shared<torch::optim::RMSprop>(p, torch::optim::RMSpropOptions(0.01).momentum(0.5).centered(true)); }},
      {"Adagrad", [](auto p) { return std::make_shared<torch::optim::Adagrad>(p, torch::optim::AdagradOptions(0.1)); }},
      {"LBFGS", [](auto p) { return std::make_shared<torch::optim::LBFGS>(p, torch::optim::LBFGSOptions(0.5)); }},
  };
  for (const auto& [name, make] : cases) {
    SCOPED_TRACE(name);
    auto params = make_params();
    auto optimizer = make(params);
    train_steps(*optimizer, params, 3);
    const auto path = dir.file(name + ".pt");
    torch_save(optimizer_state_dict(*optimizer), path);
    // A second optimizer over copies of the parameters continues identically.
    auto params2 = copies(params);
    auto restored = make(params2);
    load_optimizer_state_dict(*restored, torch_load(path).toGenericDict());
    train_steps(*optimizer, params, 2);
    train_steps(*restored, params2, 2);
    for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], params2[i])) << name;
  }
  // Another optimizer type or parameter layout is a clear error.
  auto params = make_params();
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  train_steps(sgd, params, 1);
  auto state = optimizer_state_dict(sgd);
  torch::optim::SGD fewer({params[0]}, torch::optim::SGDOptions(0.1));
  auto err = error_of([&] { load_optimizer_state_dict(fewer, state); });
  EXPECT_TRUE(contains(err, "2 parameters in the checkpoint and 1 in the optimizer")) << err;
}

TEST(Checkpoint, StateDictKeysAndStrictLoading) {
  BoringModel model;
  auto state = model.state_dict();
  EXPECT_EQ(state.size(), 2u);
  EXPECT_TRUE(state.contains("layer.weight") && state.contains("layer.bias"));
  BoringModel other;
  other.load_state_dict(state);
  EXPECT_TRUE(torch::equal(other.layer->weight, model.layer->weight));
  auto wrong = new_dict();
  wrong.insert("layer.weight", torch::zeros({3, 32}));
  wrong.insert("layer.bias", torch::zeros({2}));
  wrong.insert("head.bias", torch::zeros({2}));
  auto err = error_of([&] { other.load_state_dict(wrong); });
  EXPECT_TRUE(contains(err, "size mismatch: layer.weight (checkpoint [3, 32], model [2, 32])")) << err;
  EXPECT_TRUE(contains(err, "unexpected keys: head.bias")) << err;
}

TEST(Checkpoint, HooksAndDatamoduleStateTravelWithTheCheckpoint) {
  TempDir dir;
  struct Hooked : BoringModel {
    int64_t restored = -1;
    void on_save_checkpoint(Dict& checkpoint) override { checkpoint.insert("my_key", int64_t{42}); }
    void on_load_checkpoint(const Dict& checkpoint) override { restored = checkpoint.at("my_key").toInt(); }
  };
  struct CountingDM : LightningDataModule {
    int64_t counter = 0;
    DataLoaders train_dataloader() override { return random_loader(8); }
    Dict state_dict() const override {
      Dict d = new_dict();
      d.insert("counter", counter);
      return d;
    }
    void load_state_dict(const Dict& d) override { counter = d.at("counter").toInt(); }
  };
  struct StatefulCallback : Callback {
    int64_t value = 0;
    std::string state_key() const override { return "StatefulCallback[x]"; }
    Dict state_dict() const override {
      Dict d = new_dict();
      d.insert("value", value);
      return d;
    }
    void load_state_dict(const Dict& d) override { value = d.at("value").toInt(); }
  };
  auto dm = std::make_shared<CountingDM>();
  dm->counter = 5;
  auto cb = std::make_shared<StatefulCallback>();
  cb->value = 9;
  Trainer trainer(quiet({.callbacks = {cb}, .max_epochs = 1}));
  silenced([&] { trainer.fit(std::make_shared<Hooked>(), dm); });
  trainer.save_checkpoint(dir.file("a.ckpt"));
  auto ckpt = torch_load(dir.file("a.ckpt")).toGenericDict();
  EXPECT_EQ(ckpt.at("my_key").toInt(), 42);
  EXPECT_EQ(ckpt.at("CountingDM").toGenericDict().at("counter").toInt(), 5);
  EXPECT_EQ(ckpt.at("callbacks").toGenericDict().at("StatefulCallback[x]").toGenericDict().at("value").toInt(), 9);

  auto model = std::make_shared<Hooked>();
  auto dm2 = std::make_shared<CountingDM>();
  auto cb2 = std::make_shared<StatefulCallback>();
  Trainer resumed(quiet({.callbacks = {cb2}, .max_epochs = 2}));
  silenced([&] { resumed.fit(model, dm2, dir.file("a.ckpt")); });
  EXPECT_EQ(model->restored, 42);
  EXPECT_EQ(dm2->counter, 5);
  EXPECT_EQ(cb2->value, 9);
  EXPECT_EQ(resumed.global_step(), 16);
}

TEST(Checkpoint, AsyncCheckpointIOPluginAndPluginErrors) {
  TempDir dir;
  Trainer trainer(quiet({.max_epochs = 3,
                         .limit_train_batches = 4,
                         .enable_checkpointing = true,
                         .plugins = {std::make_shared<plugins::AsyncCheckpointIO>()},
                         .default_root_dir = dir.str()}));
  silenced([&] { trainer.fit(std::make_shared<BoringModel>()); });
  // fit waited for the background save: the file is complete when fit returns.
  auto ckpt = torch_load(dir.file("checkpoints/epoch=2-step=12.ckpt")).toGenericDict();
  EXPECT_EQ(ckpt.at("global_step").toInt(), 12);
  struct NotAPlugin : plugins::Plugin {};
  auto err = error_of([] { Trainer t({.plugins = {std::make_shared<NotAPlugin>()}}); });
  EXPECT_TRUE(contains(err, "plugins[0]")) << err;
  err = error_of([] {
    Trainer t({.plugins = {std::make_shared<plugins::TorchCheckpointIO>(), std::make_shared<plugins::TorchCheckpointIO>()}});
  });
  EXPECT_TRUE(contains(err, "more than one CheckpointIO")) << err;
}

TEST(Checkpoint, TimerStateContinuesTheClock) {
  Timer timer(std::chrono::seconds(100));
  auto state = new_dict();
  auto elapsed = new_dict();
  elapsed.insert("train", 40.0);
  elapsed.insert("validate", 1.0);
  elapsed.insert("test", 0.0);
  state.insert("time_elapsed", elapsed);
  timer.load_state_dict(state);
  EXPECT_NEAR(timer.time_elapsed("train"), 40.0, 1e-9);
  EXPECT_NEAR(*timer.time_remaining("train"), 60.0, 1e-9);
  auto saved = timer.state_dict().at("time_elapsed").toGenericDict();
  EXPECT_NEAR(saved.at("train").toDouble(), 40.0, 1e-9);
}

TEST(Checkpoint, PythonLoadsOurCheckpointAndContinuesTraining) {
  if (!python_torch_available()) GTEST_SKIP() << "Debian's python3-torch is not installed";
  TempDir dir;
  struct AdamBoring : BoringModel {
    OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(0.01));
    }
  };
  for (const std::string optimizer : {"SGD", "Adam"}) {
    std::shared_ptr<BoringModel> model =
        optimizer == "SGD" ? std::make_shared<BoringModel>() : std::make_shared<AdamBoring>();
    Trainer trainer(quiet({.max_steps = 5, .enable_checkpointing = true, .default_root_dir = dir.str()}));
    silenced([&] { trainer.fit(model); });
    const auto path = dir.file(optimizer + ".ckpt");
    trainer.save_checkpoint(path);
    // One more step in C++ on a fixed batch...
    torch::manual_seed(11);
    auto x = torch::randn({4, 32});
    std::ostringstream batch;
    batch << std::setprecision(std::numeric_limits<float>::max_digits10);  // Python must read the same floats
    for (int64_t i = 0; i < x.numel(); ++i) batch << x.view(-1)[i].item<float>() << ' ';
    std::ofstream(dir.file("batch.txt")) << batch.str();
    auto& opt = *model->optimizers().front();
    opt.zero_grad();
    model->step(x).backward();
    opt.step();
    // ...and the same step in Python from the loaded checkpoint.
    const std::string script = R"(
import sys, torch
path, kind, batch_file = sys.argv[1], sys.argv[2], sys.argv[3]
ckpt = torch.load(path)
for key in ["epoch", "global_step", "pytorch-lightning_version", "state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks"]:
    assert key in ckpt, key
assert ckpt["global_step"] == 5, ckpt["global_step"]
assert list(ckpt["state_dict"].keys()) == ["layer.weight", "layer.bias"], list(ckpt["state_dict"].keys())
assert ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == 5
class Boring(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(32, 2)
model = Boring()
model.load_state_dict(ckpt["state_dict"])
opt = torch.optim.SGD(model.parameters(), lr=0.1) if kind == "SGD" else torch.optim.Adam(model.parameters(), lr=0.01)
state = ckpt["optimizer_states"][0]
assert set(state.keys()) == {"state", "param_groups"}
assert state["param_groups"][0]["params"] == [0, 1]
opt.load_state_dict(state)
x = torch.tensor([float(v) for v in open(batch_file).read().split()]).view(4, 32)
out = model.layer(x)
loss = torch.nn.functional.mse_loss(out, torch.ones_like(out))
opt.zero_grad()
loss.backward()
opt.step()
print(" ".join(repr(float(v)) for v in torch.cat([p.detach().flatten() for p in model.parameters()])))
)";
    auto result = run_python(script, dir.file("check.py"), path + " " + optimizer + " " + dir.file("batch.txt"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto& output = result.output;
    std::istringstream values(output);
    std::vector<torch::Tensor> mine;
    for (const auto& p : model->parameters()) mine.push_back(p.detach().flatten());
    auto expected = torch::cat(mine);
    double v = 0;
    int64_t i = 0;
    for (; values >> v && i < expected.numel(); ++i)
      EXPECT_NEAR(v, expected[i].item<double>(), 1e-6) << optimizer << " parameter " << i;
    EXPECT_EQ(i, expected.numel()) << output;
  }
}

TEST(Checkpoint, PythonCheckpointsLoadIntoTheSameModel) {
  if (!python_torch_available()) GTEST_SKIP() << "Debian's python3-torch is not installed";
  TempDir dir;
  // Python trains one Adam step, saves a plain state dict and a Lightning-style checkpoint, then
  // takes a second step and writes the outputs and weights C++ must reproduce.
  const std::string script = R"(
import sys, collections, torch
out = sys.argv[1]
torch.manual_seed(5)
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    def forward(self, x):
        return self.net(x)
m = M()
opt = torch.optim.Adam(m.parameters(), lr=0.01)
x = (torch.arange(4 * 32, dtype=torch.float32).view(4, 32) % 7) / 7.0
def step():
    opt.zero_grad()
    m(x).pow(2).mean().backward()
    opt.step()
step()
torch.save(m.state_dict(), out + "/state_dict.pt")
torch.save({"epoch": 3, "global_step": 1, "pytorch-lightning_version": "2.1.0",
            "state_dict": m.state_dict(), "optimizer_states": [opt.state_dict()], "lr_schedulers": [],
            "callbacks": {}, "loops": {}, "hparams_name": "kwargs",
            "hyper_parameters": {"lr": 0.01, "layers": [32, 16, 2]}}, out + "/lightning.ckpt")
with torch.no_grad():
    y = m(x)
step()
w = torch.cat([p.detach().flatten() for p in m.parameters()])
open(out + "/expected.txt", "w").write(" ".join(repr(float(v)) for v in torch.cat([y.flatten(), w])))
)";
  auto result = run_python(script, dir.file("write.py"), dir.str());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::vector<double> expected;
  std::ifstream in(dir.file("expected.txt"));
  for (double v; in >> v;) expected.push_back(v);
  ASSERT_EQ(expected.size(), 8u + 32 * 16 + 16 + 16 * 2 + 2);

  struct M : LightningModule {
    torch::nn::Sequential net{nullptr};
    M() {
      net = register_module("net", torch::nn::Sequential(torch::nn::Linear(32, 16), torch::nn::Functional(torch::relu),
                                                         torch::nn::Linear(16, 2)));
    }
    torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  };
  auto x = torch::remainder(torch::arange(4 * 32, torch::kFloat32).view({4, 32}), 7) / 7.0;
  for (const char* file : {"state_dict.pt", "lightning.ckpt"}) {
    auto model = LightningModule::load_from_checkpoint<M>(dir.file(file));
    torch::NoGradGuard no_grad;
    auto y = model->forward(x).flatten();
    for (int64_t i = 0; i < 8; ++i) EXPECT_NEAR(y[i].item<double>(), expected[static_cast<size_t>(i)], 1e-6) << file;
  }
  // The optimizer state continues in C++ where Python left off.
  auto model = LightningModule::load_from_checkpoint<M>(dir.file("lightning.ckpt"));
  EXPECT_DOUBLE_EQ(model->hparams()["lr"].toDouble(), 0.01);
  auto ckpt = torch_load(dir.file("lightning.ckpt")).toGenericDict();
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.5));
  load_optimizer_state_dict(adam, ckpt.at("optimizer_states").toListRef()[0].toGenericDict());
  EXPECT_DOUBLE_EQ(adam.param_groups()[0].options().get_lr(), 0.01);
  adam.zero_grad();
  model->forward(x).pow(2).mean().backward();
  adam.step();
  std::vector<torch::Tensor> parts;
  for (const auto& p : model->parameters()) parts.push_back(p.detach().flatten());
  auto weights = torch::cat(parts);
  for (int64_t i = 0; i < weights.numel(); ++i)
    ASSERT_NEAR(weights[i].item<double>(), expected[static_cast<size_t>(8 + i)], 1e-6) << "parameter " << i;
}
