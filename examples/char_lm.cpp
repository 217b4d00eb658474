// A character-level language model (embedding, 2-layer LSTM, linear head) trained on plain text
// that every Debian system has: the licence texts of base-files under /usr/share/common-licenses
// (about 250 KB; --data.text names other files or folders). Validation reports bits per
// character; after fit it writes a sample continuing a prompt. A LightningCLI program: every
// Trainer flag, and --model.* / --data.* (or unprefixed, e.g. --hidden 128 --context 64).
//
//   ./build/examples/char_lm --max_epochs 5 --threads 2
//   ./build/examples/char_lm --data.text README.md,docs --hidden 128 --context 64
#include "fit_report.h"

#include <lightning/lightning.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

namespace L = lightning;
namespace fs = std::filesystem;

/// The text's characters as ids (bytes; the vocabulary is the set of bytes that occur).
struct Corpus {
  std::string chars;  // id -> character
  torch::Tensor ids;  // int64, one per character of the text

  /// Reads each file, or each regular file of each folder, in name order.
  static Corpus read(const std::string& paths) {
    std::vector<fs::path> files;
    std::stringstream list(paths);
    for (std::string path; std::getline(list, path, ',');) {
      if (fs::is_directory(path)) {
        for (const auto& entry : fs::directory_iterator(path))
          if (entry.is_regular_file()) files.push_back(entry.path());
      } else if (fs::is_regular_file(path)) {
        files.emplace_back(path);
      } else {
        throw L::MisconfigurationException("--data.text: '" + path + "' is neither a file nor a folder");
      }
    }
    std::sort(files.begin(), files.end());
    std::string text;
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      text.append(std::istreambuf_iterator<char>(in), {});
    }
    if (text.size() < 1024) throw L::MisconfigurationException("--data.text '" + paths + "': under 1 KB of text");
    Corpus corpus;
    std::set<char> seen(text.begin(), text.end());
    corpus.chars.assign(seen.begin(), seen.end());
    std::vector<int64_t> index(256, 0);
    for (size_t i = 0; i < corpus.chars.size(); ++i) index[static_cast<unsigned char>(corpus.chars[i])] = i;
    corpus.ids = torch::empty({static_cast<int64_t>(text.size())}, torch::kLong);
    auto* out = corpus.ids.data_ptr<int64_t>();
    for (size_t i = 0; i < text.size(); ++i) out[i] = index[static_cast<unsigned char>(text[i])];
    return corpus;
  }
};

/// Windows of `context` characters and the same shifted by one (the next characters to predict);
/// the last tenth of the text is the validation set.
struct TextDataModule : L::LightningDataModule {
  std::string text;
  int64_t context, batch_size;
  Corpus corpus;
  std::shared_ptr<L::TensorDataset> train, val;

  static void add_arguments(L::cli::Arguments& args) {
    args.add("text", std::string("/usr/share/common-licenses"), "Text files or folders, comma-separated");
    args.add("context", int64_t{128}, "Characters per training sequence");
    args.add("batch_size", int64_t{32}, "Sequences per batch");
    args.add("threads", 0, "LibTorch's intra-op threads (0: one per core)");
  }
  explicit TextDataModule(const L::cli::InitArgs& args)
      : text(args.get<std::string>("text")),
        context(args.get<int64_t>("context")),
        batch_size(args.get<int64_t>("batch_size")),
        corpus(Corpus::read(text)) {
    examples::set_threads(args.get<int>("threads"));
  }

  std::shared_ptr<L::TensorDataset> windows(const torch::Tensor& ids) const {
    const int64_t n = (ids.size(0) - 1) / context;
    auto inputs = ids.narrow(0, 0, n * context).view({n, context});
    auto targets = ids.narrow(0, 1, n * context).view({n, context});
    return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{inputs, targets});
  }
  void setup(const std::string&) override {
    const int64_t split = corpus.ids.size(0) * 9 / 10;
    train = windows(corpus.ids.narrow(0, 0, split));
    val = windows(corpus.ids.narrow(0, split, corpus.ids.size(0) - split));
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(train, {.batch_size = batch_size, .shuffle = true, .drop_last = true});
  }
  L::DataLoaders val_dataloader() override { return L::DataLoader(val, {.batch_size = 128}); }
};

struct CharLM : L::LightningModule {
  torch::nn::Embedding embed{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};

  static void add_arguments(L::cli::Arguments& args) {
    args.add("vocab", int64_t{256}, "Vocabulary size (at least the corpus' distinct bytes)");
    args.add("embedding", int64_t{64}, "Embedding width");
    args.add("hidden", int64_t{256}, "LSTM width");
    args.add("layers", int64_t{2}, "LSTM layers");
    args.add("lr", 3e-3, "Adam learning rate");
  }
  explicit CharLM(const L::cli::InitArgs& args) {
    save_hyperparameters({{"vocab", args.get<int64_t>("vocab")},
                          {"embedding", args.get<int64_t>("embedding")},
                          {"hidden", args.get<int64_t>("hidden")},
                          {"layers", args.get<int64_t>("layers")},
                          {"lr", args.get<double>("lr")}});
    const int64_t vocab = args.get<int64_t>("vocab"), hidden = args.get<int64_t>("hidden");
    embed = register_module("embed", torch::nn::Embedding(vocab, args.get<int64_t>("embedding")));
    lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(args.get<int64_t>("embedding"), hidden)
                                                       .num_layers(args.get<int64_t>("layers"))
                                                       .batch_first(true)));
    head = register_module("head", torch::nn::Linear(hidden, vocab));
  }

  /// Logits (batch, time, vocab) for ids (batch, time).
  torch::Tensor forward(const torch::Tensor& ids) override {
    return head->forward(std::get<0>(lstm->forward(embed->forward(ids))));
  }
  torch::Tensor loss(const L::Batch& batch) {
    return torch::nn::functional::cross_entropy(forward(batch[0]).flatten(0, 1), batch[1].flatten());
  }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto value = loss(batch);
    log("train_loss", value, {.prog_bar = true});
    return value;
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    auto value = loss(batch);
    log("val_loss", value, {.prog_bar = true});
    log("val_bits_per_char", value / std::log(2.0), {.prog_bar = true});
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(hparams()["lr"].toDouble()));
  }

  /// `length` characters after `prompt`, each drawn from the softmax at `temperature`.
  std::string sample(const Corpus& corpus, const std::string& prompt, int64_t length, double temperature) {
    torch::NoGradGuard no_grad;
    eval();
    std::vector<int64_t> ids;
    for (char c : prompt) {
      const auto at = corpus.chars.find(c);
      ids.push_back(at == std::string::npos ? 0 : static_cast<int64_t>(at));
    }
    std::string out = prompt;
    auto x = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device());
    auto [hidden, state] = lstm->forward(embed->forward(x));
    for (int64_t i = 0; i < length; ++i) {
      auto logits = head->forward(hidden.select(1, -1)).squeeze(0) / temperature;
      auto probs = torch::softmax(logits.narrow(0, 0, static_cast<int64_t>(corpus.chars.size())), 0);
      const int64_t next = torch::multinomial(probs, 1).item<int64_t>();
      out += corpus.chars[next];
      std::tie(hidden, state) = lstm->forward(embed->forward(torch::full({1, 1}, next, x.options())), state);
    }
    return out;
  }
};

int main(int argc, char** argv) {
  using CLI = L::LightningCLI<CharLM, TextDataModule>;
  CLI::Hooks hooks;
  hooks.before_fit = [](CLI& cli) {
    const auto distinct = static_cast<int64_t>(cli.datamodule->corpus.chars.size());
    if (distinct > cli.model->hparams()["vocab"].toInt())
      throw L::MisconfigurationException("--model.vocab=" + std::to_string(cli.model->hparams()["vocab"].toInt()) +
                                         " is too small: the text has " + std::to_string(distinct) +
                                         " distinct bytes");
  };
  hooks.after_fit = [](CLI& cli) {
    if (cli.trainer->interrupted() || !cli.trainer->is_global_zero()) return;
    std::cout << "sample: " << cli.model->sample(cli.datamodule->corpus, "This License ", 200, 0.8) << std::endl;
  };
  CLI cli(argc, argv,
          {.trainer_defaults = {.callbacks = {std::make_shared<examples::FitReport>()}, .max_epochs = 5},
           .seed_everything_default = 0,
           .default_subcommand = "fit",
           .unprefixed_flags = true,
           .description = "Train a character-level language model with lightning"},
          hooks);
  return cli.trainer->interrupted() ? 130 : 0;
}
