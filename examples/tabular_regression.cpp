// Regression on a table from a CSV file: an MLP predicting one numeric column from the others.
// The default file is the Auto MPG table (examples/data/auto-mpg.csv: fuel economy of 398 cars
// from cylinders, displacement, horsepower, weight, acceleration and model year; UCI Machine
// Learning Repository, CC BY 4.0, see examples/data/README.md). Numeric columns are the features
// (others, like `name`, are left out), rows with an empty cell are dropped, features and target
// are standardised with the training split's statistics, and 20% of the rows (seeded) are held
// out. Validation reports the RMSE in the target's units; after fit it prints RMSE and R².
// A LightningCLI program: every Trainer flag, and --data.* / --model.* (or unprefixed).
//
//   ./build/examples/tabular_regression --max_epochs 200
//   ./build/examples/tabular_regression --csv my.csv --target price --hidden 128
#include "fit_report.h"

#include <lightning/lightning.h>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

namespace L = lightning;

/// The numeric columns of a CSV file with a header row (no quoted fields).
struct Table {
  std::vector<std::string> columns;
  torch::Tensor values;  // float64 (rows, columns)
  int64_t dropped_rows = 0;

  static std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
  }
  static bool number(const std::string& cell, double& out) {
    if (cell.empty()) return false;
    char* end = nullptr;
    out = std::strtod(cell.c_str(), &end);
    return end == cell.c_str() + cell.size();
  }

  static Table read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw L::MisconfigurationException("--data.csv: cannot read '" + path + "'");
    std::string line;
    std::getline(in, line);
    const auto header = split(line);
    std::vector<std::vector<std::string>> rows;
    while (std::getline(in, line))
      if (!line.empty()) rows.push_back(split(line));
    // A column is numeric when every non-empty cell parses as a number.
    std::vector<size_t> numeric;
    for (size_t c = 0; c < header.size(); ++c) {
      bool all = true;
      double x;
      for (const auto& row : rows) all = all && (c >= row.size() || row[c].empty() || number(row[c], x));
      if (all) numeric.push_back(c);
    }
    Table table;
    for (size_t c : numeric) table.columns.push_back(header[c]);
    std::vector<double> flat;
    for (const auto& row : rows) {
      std::vector<double> values;
      for (size_t c : numeric) {
        double x;
        if (c < row.size() && number(row[c], x)) values.push_back(x);
      }
      if (values.size() != numeric.size()) {
        ++table.dropped_rows;
        continue;
      }
      flat.insert(flat.end(), values.begin(), values.end());
    }
    const auto n = static_cast<int64_t>(flat.size() / std::max<size_t>(numeric.size(), 1));
    if (n < 10) throw L::MisconfigurationException("--data.csv '" + path + "': fewer than 10 complete rows");
    table.values = torch::tensor(flat, torch::kDouble).view({n, static_cast<int64_t>(numeric.size())});
    return table;
  }
};

struct CsvDataModule : L::LightningDataModule {
  std::string csv, target;
  int64_t batch_size;
  double target_mean = 0, target_std = 1;
  int64_t features = 0;
  std::shared_ptr<L::TensorDataset> train, val;

  static void add_arguments(L::cli::Arguments& args) {
    args.add("csv", std::string(LIGHTNING_EXAMPLES_DATA "/auto-mpg.csv"), "CSV file with a header row");
    args.add("target", std::string("mpg"), "The numeric column to predict");
    args.add("batch_size", int64_t{32}, "Rows per batch");
    args.add("threads", 0, "LibTorch's intra-op threads (0: one per core)");
  }
  explicit CsvDataModule(const L::cli::InitArgs& args)
      : csv(args.get<std::string>("csv")), target(args.get<std::string>("target")),
        batch_size(args.get<int64_t>("batch_size")) {
    examples::set_threads(args.get<int>("threads"));
    load();
  }

  void load() {
    const Table table = Table::read(csv);
    const auto at = std::find(table.columns.begin(), table.columns.end(), target);
    if (at == table.columns.end()) {
      std::string accepted;
      for (const auto& c : table.columns) accepted += (accepted.empty() ? "" : ", ") + c;
      throw L::MisconfigurationException("--data.target='" + target + "' is not a numeric column of " + csv +
                                         "; accepted: " + accepted);
    }
    const int64_t t = at - table.columns.begin(), n = table.values.size(0);
    std::vector<int64_t> others;
    for (int64_t c = 0; c < table.values.size(1); ++c)
      if (c != t) others.push_back(c);
    features = static_cast<int64_t>(others.size());
    // The split is drawn from a generator of its own: the same rows whatever the global seed.
    auto order = torch::randperm(n, at::detail::createCPUGenerator(0), torch::kLong);
    const int64_t n_val = std::max<int64_t>(1, n / 5);
    auto train_rows = table.values.index_select(0, order.narrow(0, n_val, n - n_val));
    auto val_rows = table.values.index_select(0, order.narrow(0, 0, n_val));
    auto columns = torch::tensor(others, torch::kLong);
    auto x_train = train_rows.index_select(1, columns), x_val = val_rows.index_select(1, columns);
    auto mean = x_train.mean(0), std = x_train.std(0).clamp_min(1e-12);
    target_mean = train_rows.select(1, t).mean().item<double>();
    target_std = train_rows.select(1, t).std().item<double>();
    auto y = [&](const torch::Tensor& rows) { return ((rows.select(1, t) - target_mean) / target_std).unsqueeze(1); };
    train = std::make_shared<L::TensorDataset>(
        std::vector<torch::Tensor>{((x_train - mean) / std).to(torch::kFloat), y(train_rows).to(torch::kFloat)});
    val = std::make_shared<L::TensorDataset>(
        std::vector<torch::Tensor>{((x_val - mean) / std).to(torch::kFloat), y(val_rows).to(torch::kFloat)});
    std::cout << csv << ": " << n << " rows (" << table.dropped_rows << " with empty cells dropped), "
              << features << " features, target " << target << "; " << n - n_val << " train, " << n_val
              << " validation" << std::endl;
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(train, {.batch_size = batch_size, .shuffle = true});
  }
  L::DataLoaders val_dataloader() override { return L::DataLoader(val, {.batch_size = 1024}); }
};

struct TabularRegressor : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  double target_std = 1;  // the datamodule's, to report errors in the target's units

  static void add_arguments(L::cli::Arguments& args) {
    args.add("hidden", int64_t{64}, "Width of the two hidden layers");
    args.add("lr", 3e-3, "Adam learning rate");
    args.add("weight_decay", 1e-4, "Adam weight decay");
  }
  explicit TabularRegressor(const L::cli::InitArgs& args) {
    save_hyperparameters({{"hidden", args.get<int64_t>("hidden")},
                          {"lr", args.get<double>("lr")},
                          {"weight_decay", args.get<double>("weight_decay")}});
  }
  /// The input width is the table's, known once the datamodule has read it.
  void build(int64_t features) {
    const int64_t hidden = hparams()["hidden"].toInt();
    using namespace torch::nn;
    net = register_module("net", Sequential(Linear(features, hidden), ReLU(), Linear(hidden, hidden), ReLU(),
                                            Linear(hidden, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::mse_loss(forward(batch[0]), batch[1]);
    log("train_loss", loss, {.prog_bar = true});
    return loss;
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    auto mse = torch::nn::functional::mse_loss(forward(batch[0]), batch[1]);
    log("val_loss", mse, {.prog_bar = true});
    log("val_rmse", mse.sqrt() * target_std, {.prog_bar = true});
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(
        parameters(), torch::optim::AdamOptions(hparams()["lr"].toDouble()).weight_decay(hparams()["weight_decay"].toDouble()));
  }
};

int main(int argc, char** argv) {
  using CLI = L::LightningCLI<TabularRegressor, CsvDataModule>;
  CLI::Hooks hooks;
  // Before any subcommand (fit, or validate/test with --ckpt_path): the layers fit the table.
  const CLI::Hook build = [](CLI& cli) {
    cli.model->build(cli.datamodule->features);
    cli.model->target_std = cli.datamodule->target_std;
  };
  hooks.before_fit = hooks.before_validate = hooks.before_test = hooks.before_predict = build;
  hooks.after_fit = [](CLI& cli) {
    if (cli.trainer->interrupted() || !cli.trainer->is_global_zero()) return;
    torch::NoGradGuard no_grad;
    cli.model->eval();
    const auto& val = *cli.datamodule->val;
    auto x = val.tensors()[0], y = val.tensors()[1];
    auto error = (cli.model->forward(x) - y) * cli.datamodule->target_std;
    const double rmse = error.pow(2).mean().sqrt().item<double>();
    const double r2 = 1 - error.pow(2).sum().item<double>() /
                              (y * cli.datamodule->target_std).sub((y * cli.datamodule->target_std).mean()).pow(2).sum().item<double>();
    std::cout << "validation RMSE " << rmse << " " << cli.datamodule->target << ", R^2 " << r2 << std::endl;
  };
  CLI cli(argc, argv,
          {.trainer_defaults = {.callbacks = {std::make_shared<examples::FitReport>()}, .max_epochs = 100},
           .seed_everything_default = 0,
           .default_subcommand = "fit",
           .unprefixed_flags = true,
           .description = "Regression on a CSV table with lightning"},
          hooks);
  return cli.trainer->interrupted() ? 130 : 0;
}
