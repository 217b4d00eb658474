// Training throughput of this library on one device, the C++ half of bench/gpu/run.sh (its
// Python half, lightning_throughput.py, trains the same models with PyTorch Lightning):
//   cnn          the main job's Fashion-MNIST CNN, batch 64, Adam; small and overhead-bound
//   transformer  a GPT-style language model (pre-LayerNorm blocks, causal attention), AdamW;
//                compute-bound, meant for bf16-mixed
// on in-memory random data of the right shapes (what is timed is training, not reading files).
// Samples per second are counted from the start of step `--warmup` to the end of the fit, with
// the device synchronised at both ends. Prints one line:
//   throughput model=cnn framework=lightning-cpp device=cuda:0 precision=32-true ... samples_per_s=N
//
//   ./throughput cnn --accelerator gpu --steps 2000 --warmup 200
//   ./throughput transformer --accelerator gpu --precision bf16-mixed --steps 60 --warmup 10
// Flags (both halves take the same ones, with the same defaults): --accelerator --precision
// --steps --warmup --batch_size --num_workers --seed; for the transformer --vocab --context
// --d_model --heads --layers.
#include <lightning/lightning.h>
#include <lightning/utilities/torch_compat.h>

#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

namespace L = lightning;
namespace F = torch::nn::functional;
using namespace torch::nn;

namespace {

/// `--name value` pairs after the model's name; every flag must be one the program knows.
struct Flags {
  std::map<std::string, std::string> values{
      {"accelerator", "auto"}, {"precision", "32-true"}, {"steps", "0"},  {"warmup", "0"},
      {"batch_size", "0"},     {"num_workers", "2"},     {"seed", "0"},   {"vocab", "8192"},
      {"context", "256"},      {"d_model", "768"},       {"heads", "12"}, {"layers", "12"}};
  Flags(int argc, char** argv) {
    for (int i = 2; i < argc; i += 2) {
      std::string name = argv[i];
      if (name.rfind("--", 0) != 0 || !values.count(name.substr(2)) || i + 1 >= argc)
        throw std::invalid_argument("unknown flag or missing value: " + name);
      values[name.substr(2)] = argv[i + 1];
    }
  }
  std::string str(const std::string& name) const { return values.at(name); }
  int64_t integer(const std::string& name) const { return std::stoll(values.at(name)); }
};

struct FashionCnn : L::LightningModule {
  Sequential net{nullptr};
  FashionCnn() {
    net = register_module(
        "net", Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                          Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2), Flatten(),
                          Linear(64 * 7 * 7, 128), ReLU(), Dropout(0.25), Linear(128, 10)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = F::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss, {.prog_bar = true});
    return loss;
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }
};

/// Pre-LayerNorm transformer block: causal self-attention, then a 4x GELU MLP, each residual.
struct BlockImpl : Module {
  int64_t heads;
  LayerNorm ln1{nullptr}, ln2{nullptr};
  Linear qkv{nullptr}, proj{nullptr}, fc{nullptr}, out{nullptr};
  BlockImpl(int64_t d, int64_t heads) : heads(heads) {
    ln1 = register_module("ln1", LayerNorm(LayerNormOptions({d})));
    qkv = register_module("qkv", Linear(d, 3 * d));
    proj = register_module("proj", Linear(d, d));
    ln2 = register_module("ln2", LayerNorm(LayerNormOptions({d})));
    fc = register_module("fc", Linear(d, 4 * d));
    out = register_module("out", Linear(4 * d, d));
  }
  torch::Tensor forward(torch::Tensor x) {
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
    auto split = qkv->forward(ln1->forward(x)).view({b, t, 3, heads, d / heads}).permute({2, 0, 3, 1, 4});
    auto y = L::compat::causal_attention(split[0], split[1], split[2]);
    x = x + proj->forward(y.transpose(1, 2).reshape({b, t, d}));
    return x + out->forward(F::gelu(fc->forward(ln2->forward(x))));
  }
};
TORCH_MODULE(Block);

struct TransformerLm : L::LightningModule {
  Embedding tokens{nullptr}, positions{nullptr};
  ModuleList blocks;
  LayerNorm ln{nullptr};
  Linear head{nullptr};
  TransformerLm(const Flags& f) {
    const int64_t vocab = f.integer("vocab"), d = f.integer("d_model");
    tokens = register_module("tokens", Embedding(vocab, d));
    positions = register_module("positions", Embedding(f.integer("context"), d));
    blocks = register_module("blocks", ModuleList());
    for (int64_t i = 0; i < f.integer("layers"); ++i) blocks->push_back(Block(d, f.integer("heads")));
    ln = register_module("ln", LayerNorm(LayerNormOptions({d})));
    head = register_module("head", Linear(LinearOptions(d, vocab).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& idx) override {
    auto x = tokens->forward(idx) + positions->forward(torch::arange(idx.size(1), idx.options()));
    for (const auto& block : *blocks) x = block->as<BlockImpl>()->forward(x);
    return head->forward(ln->forward(x));
  }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto logits = forward(batch[0]);
    auto loss = F::cross_entropy(logits.flatten(0, 1), batch[1].flatten());
    log("train_loss", loss, {.prog_bar = true});
    return loss;
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::AdamW>(parameters(), torch::optim::AdamWOptions(3e-4).weight_decay(0.1));
  }
};

/// Synchronises the module's device at the start of step `warmup` and at the end of training.
struct ThroughputTimer : L::Callback {
  int64_t warmup;
  std::chrono::steady_clock::time_point start, end;
  std::string device;
  explicit ThroughputTimer(int64_t warmup) : warmup(warmup) {}
  static void synchronize(L::LightningModule& module) {
    if (module.device().is_cuda()) torch::cuda::synchronize(module.device().index());
  }
  void on_train_batch_start(L::Trainer& trainer, L::LightningModule& module, const L::Batch&, int64_t) override {
    if (trainer.global_step() != warmup) return;
    synchronize(module);
    start = std::chrono::steady_clock::now();
  }
  void on_train_end(L::Trainer&, L::LightningModule& module) override {
    synchronize(module);
    end = std::chrono::steady_clock::now();
    device = module.device().str();
  }
};

}  // namespace

int main(int argc, char** argv) try {
  const std::string model_name = argc > 1 ? argv[1] : "";
  if (model_name != "cnn" && model_name != "transformer")
    throw std::invalid_argument("usage: throughput cnn|transformer [--flag value ...]");
  Flags f(argc, argv);
  const bool cnn = model_name == "cnn";
  const int64_t steps = f.integer("steps") > 0 ? f.integer("steps") : (cnn ? 2000 : 60);
  const int64_t warmup = f.integer("warmup") > 0 ? f.integer("warmup") : steps / 10;
  const int64_t batch = f.integer("batch_size") > 0 ? f.integer("batch_size") : (cnn ? 64 : 32);
  torch::manual_seed(f.integer("seed"));

  // Enough samples for a few epochs' worth of distinct batches, not the whole run.
  const int64_t samples = std::min<int64_t>(steps, 256) * batch;
  std::shared_ptr<L::LightningModule> model;
  std::vector<torch::Tensor> data;
  if (cnn) {
    model = std::make_shared<FashionCnn>();
    data = {torch::randn({samples, 1, 28, 28}), torch::randint(10, {samples})};
  } else {
    model = std::make_shared<TransformerLm>(f);
    auto sequences = torch::randint(f.integer("vocab"), {samples, f.integer("context") + 1});
    data = {sequences.narrow(1, 0, f.integer("context")).contiguous(),
            sequences.narrow(1, 1, f.integer("context")).contiguous()};
  }
  L::DataLoader loader(std::make_shared<L::TensorDataset>(data),
                       {.batch_size = batch,
                        .shuffle = true,
                        .num_workers = static_cast<int>(f.integer("num_workers")),
                        .drop_last = true,
                        .pin_memory = true});

  auto timer = std::make_shared<ThroughputTimer>(warmup);
  L::Trainer trainer(L::TrainerOptions{.accelerator = f.str("accelerator"),
                                       .devices = 1,
                                       .precision = f.str("precision"),
                                       .logger = false,
                                       .callbacks = {timer},
                                       .max_steps = steps,
                                       .num_sanity_val_steps = 0,
                                       .enable_checkpointing = false,
                                       .enable_progress_bar = false,
                                       .enable_model_summary = false});
  trainer.fit(model, loader);

  const double seconds = std::chrono::duration<double>(timer->end - timer->start).count();
  std::cout << "throughput model=" << model_name << " framework=lightning-cpp device=" << timer->device
            << " precision=" << f.str("precision") << " batch_size=" << batch << " steps=" << steps
            << " timed_steps=" << steps - warmup << " seconds=" << seconds
            << " samples_per_s=" << static_cast<double>((steps - warmup) * batch) / seconds << std::endl;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "throughput: " << e.what() << std::endl;
  return 2;
}
