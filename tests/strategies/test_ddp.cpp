// DDP on c10d with Gloo, over loopback: each test starts its ranks as processes of this binary
// (the DDPWorker test, disabled unless asked for), which write their weights and metrics to a
// folder the test then compares with one process doing the same work.
#include "helpers/boring_model.h"
#include "helpers/errors.h"
#include "helpers/processes.h"
#include "helpers/python.h"
#include "helpers/temp_dir.h"

#include <lightning/lightning.h>
#include <lightning/plugins/environments.h>
#include <lightning/strategies/ddp.h>

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <csignal>
#include <functional>
#include <cstdlib>
#include <fstream>

namespace L = lightning;
using L::testing::ChildProcess;
using L::testing::contains;
using L::testing::error_of;
using L::testing::TempDir;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
int64_t env_int(const char* name, int64_t fallback) { return std::stoll(env_or(name, std::to_string(fallback))); }

constexpr int64_t kSamples = 96;
constexpr uint64_t kSeed = 7;

std::shared_ptr<L::TensorDataset> dataset() {
  auto g = at::make_generator<at::CPUGeneratorImpl>(123);
  auto x = torch::randn({kSamples, 16}, g);
  auto y = torch::randint(0, 4, {kSamples}, g);
  return std::make_shared<L::TensorDataset>(std::vector<torch::Tensor>{x, y});
}

/// A small classifier; `failure` makes one rank die ("kill": SIGKILL, "throw": an exception) at
/// its 4th training batch.
struct WorkerModel : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  std::string failure;
  /// `batch_norm`: a SyncBatchNorm after the first layer.
  WorkerModel(std::string fail, bool batch_norm) : failure(std::move(fail)) {
    net = torch::nn::Sequential(torch::nn::Linear(16, 32));
    if (batch_norm) net->push_back(L::nn::SyncBatchNorm(32));
    net->push_back(torch::nn::Tanh());
    net->push_back(torch::nn::Linear(32, 4));
    register_module("net", net);
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
  L::StepOutput training_step(const L::Batch& batch, int64_t batch_idx) override {
    if (!failure.empty() && trainer().global_rank() == 1 && batch_idx == 3) {
      if (failure == "kill") std::raise(SIGKILL);
      throw std::runtime_error("boom in training_step on rank 1");
    }
    auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss, {.on_step = true, .on_epoch = true, .sync_dist = true});
    return loss;
  }
  L::StepOutput validation_step(const L::Batch& batch, int64_t, int64_t) override {
    log("val_loss", torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]), {.sync_dist = true});
    return {};
  }
  L::StepOutput test_step(const L::Batch& batch, int64_t, int64_t) override {
    log("test_loss", torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]), {.sync_dist = true});
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    estimated_stepping_batches = trainer().estimated_stepping_batches();
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  }
  int64_t estimated_stepping_batches = -1;
};

std::shared_ptr<WorkerModel> seeded_model(const std::string& failure, bool batch_norm) {
  L::seed_everything(kSeed);
  return std::make_shared<WorkerModel>(failure, batch_norm);
}

/// Parameters and buffers (BatchNorm's running statistics), flattened.
torch::Tensor flat_weights(L::LightningModule& m) {
  std::vector<torch::Tensor> all;
  for (const auto& p : m.parameters()) all.push_back(p.detach().reshape({-1}).to(torch::kDouble));
  for (const auto& b : m.buffers()) all.push_back(b.detach().reshape({-1}).to(torch::kDouble));
  return torch::cat(all);
}

/// The DDP run's flags, from the variables the test sets.
L::TrainerOptions worker_options(const std::string& root) {
  return {.accelerator = "cpu",
          .strategy = env_or("LIGHTNING_DDP_STRATEGY", "ddp"),
          .devices = static_cast<int>(env_int("LIGHTNING_DDP_DEVICES", 2)),
          .num_nodes = env_int("LIGHTNING_DDP_NODES", 1),
          .precision = "64-true",  // the comparisons then show the algorithm, not float32 rounding
          .max_epochs = env_int("LIGHTNING_DDP_MAX_EPOCHS", 2),
          .num_sanity_val_steps = 0,
          .enable_progress_bar = false,
          .enable_model_summary = false,
          .accumulate_grad_batches = env_int("LIGHTNING_DDP_ACCUMULATE", 1),
          .sync_batchnorm = env_int("LIGHTNING_DDP_SYNC_BN", 0) != 0,
          .default_root_dir = root};
}

bool path_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

/// One process over the same data: batch 2B (B per rank), in the order a DistributedSampler
/// deals to two ranks (rank r takes every other index of the same permutation, so each step's
/// union is one contiguous slice of it).
struct Reference {
  torch::Tensor weights;
  double val_loss;
  double test_loss;
};
Reference single_process(int64_t batch, int64_t accumulate, bool batch_norm = false,
                         std::optional<std::string> ckpt_path = std::nullopt) {
  auto model = seeded_model("", batch_norm);
  L::DataLoader train(dataset(), {.batch_size = 2 * batch,
                                  .sampler = std::make_shared<L::DistributedSampler>(
                                      L::DistributedSampler::Options{.num_replicas = 1, .rank = 0, .seed = kSeed})});
  L::DataLoader val(dataset(), {.batch_size = 2 * batch});
  L::Trainer trainer(
      L::testing::quiet({.precision = "64-true", .max_epochs = 2, .num_sanity_val_steps = 0,
                         .accumulate_grad_batches = accumulate}));
  trainer.fit(model, train, val, ckpt_path);
  const double val_loss = trainer.callback_metrics().at("val_loss").item<double>();
  const double test_loss = trainer.test(model, val).at(0).at("test_loss");
  return {flat_weights(*model), val_loss, test_loss};
}

struct RankResult {
  torch::Tensor weights;
  double val_loss = 0;
};
RankResult read_rank(const std::string& dir, int rank) {
  RankResult r;
  torch::load(r.weights, dir + "/weights_" + std::to_string(rank) + ".pt");
  std::ifstream(dir + "/val_loss_" + std::to_string(rank) + ".txt") >> r.val_loss;
  return r;
}

std::map<std::string, std::string> worker_env(const std::string& scenario, const std::string& out,
                                              std::map<std::string, std::string> extra = {}) {
  extra["LIGHTNING_DDP_TEST"] = scenario;
  extra["LIGHTNING_DDP_OUT"] = out;
  extra["OMP_NUM_THREADS"] = "1";
  return extra;
}

const std::vector<std::string> kWorkerArgs{"--gtest_filter=DDPWorker.DISABLED_Run", "--gtest_also_run_disabled_tests"};
constexpr auto kTimeout = std::chrono::seconds(240);

/// One run of the worker, to its end; its launcher starts the other rank (its output: log.txt).
L::testing::ProcessResult run_worker(const std::string& scenario, const TempDir& dir,
                                     std::map<std::string, std::string> extra = {}) {
  ChildProcess run(kWorkerArgs, worker_env(scenario, dir.str(), std::move(extra)), dir.file("log.txt"));
  return run.wait(kTimeout);
}

/// Two workers of one process each, started by hand as two nodes on 127.0.0.1 (`num_nodes=2`),
/// with `env(node)` added to each one's environment.
std::vector<std::unique_ptr<ChildProcess>> start_two_nodes(
    const TempDir& dir, const std::function<std::map<std::string, std::string>(int)>& env) {
  const auto port = std::to_string(L::testing::free_port());
  std::vector<std::unique_ptr<ChildProcess>> nodes;
  for (int node = 0; node < 2; ++node) {
    auto vars = env(node);
    vars.insert({{"LIGHTNING_DDP_DEVICES", "1"}, {"LIGHTNING_DDP_NODES", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                 {"MASTER_PORT", port}});
    nodes.push_back(std::make_unique<ChildProcess>(kWorkerArgs, worker_env("fit", dir.str(), vars),
                                                   dir.file("node" + std::to_string(node) + ".txt")));
  }
  return nodes;
}

void expect_same(const torch::Tensor& a, const torch::Tensor& b, double rtol = 1e-6) {
  ASSERT_EQ(a.sizes(), b.sizes());
  const double err = ((a - b).abs() / (b.abs() + 1e-8)).max().item<double>();
  const double abs_err = (a - b).abs().max().item<double>();
  EXPECT_TRUE(err < rtol || abs_err < 1e-12) << "max relative difference " << err << ", absolute " << abs_err;
}

}  // namespace

// The rank's side: run by the tests below in processes of their own.
TEST(DDPWorker, DISABLED_Run) {
  const auto scenario = env_or("LIGHTNING_DDP_TEST", "");
  if (scenario.empty()) GTEST_SKIP() << "run by the DDP tests";
  const auto out = env_or("LIGHTNING_DDP_OUT", ".");
  const int64_t batch = env_int("LIGHTNING_DDP_BATCH", 8);
  torch::set_num_threads(1);
  auto model = seeded_model(scenario == "fit" ? "" : scenario, env_int("LIGHTNING_DDP_SYNC_BN", 0) != 0);
  L::DataLoader train(dataset(), {.batch_size = batch});
  L::DataLoader val(dataset(), {.batch_size = batch});
  L::Trainer trainer(worker_options(out));
  const auto ckpt = env_or("LIGHTNING_DDP_CKPT", "");
  trainer.fit(model, train, val, ckpt.empty() ? std::nullopt : std::optional<std::string>(ckpt));
  const auto rank = std::to_string(trainer.global_rank());
  const double val_loss = trainer.callback_metrics().at("val_loss").item<double>();
  if (env_int("LIGHTNING_DDP_THEN_TEST", 0)) {
    const auto results = trainer.test(model, val);
    std::ofstream(out + "/test_loss_" + rank + ".txt") << fmt::format("{:.17g}", results.at(0).at("test_loss"));
  }
  torch::save(flat_weights(*model), out + "/weights_" + rank + ".pt");
  std::ofstream(out + "/val_loss_" + rank + ".txt") << fmt::format("{:.17g}", val_loss);
  if (const auto* checkpoint = trainer.checkpoint_callback())
    std::ofstream(out + "/best_" + rank + ".txt") << checkpoint->best_model_path;
  std::ofstream(out + "/ranks_" + rank + ".txt") << trainer.global_rank() << " " << trainer.local_rank() << " "
                                                  << trainer.node_rank() << " " << trainer.world_size() << " "
                                                  << trainer.num_devices() << " " << trainer.num_nodes() << " "
                                                  << trainer.num_training_batches() << " "
                                                  << model->estimated_stepping_batches;
}

TEST(DDP, TwoProcessesEqualOneProcessWithTheirBatchesTogether) {
  TempDir dir;
  auto result = run_worker("fit", dir);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(result.left_processes);
  const auto rank0 = read_rank(dir.str(), 0), rank1 = read_rank(dir.str(), 1);
  EXPECT_TRUE(rank0.weights.equal(rank1.weights)) << "the ranks' weights differ";
  const auto reference = single_process(8, 1);
  expect_same(rank0.weights, reference.weights);
  // sync_dist: the epoch mean over both ranks' halves is the mean over the whole set.
  EXPECT_NEAR(rank0.val_loss, reference.val_loss, 1e-6 * std::abs(reference.val_loss));
  EXPECT_DOUBLE_EQ(rank0.val_loss, rank1.val_loss);
  std::ifstream ranks(dir.file("ranks_1.txt"));
  std::string line;
  std::getline(ranks, line);
  // Global, local, node rank; world size; devices; nodes; batches per epoch and stepping batches,
  // counted per rank as Lightning counts them (96 samples / 2 ranks / batch 8 = 6, over 2 epochs).
  EXPECT_EQ(line, "1 1 0 2 2 1 6 12");
  // Rank 0 alone writes the logger's files and the checkpoint.
  EXPECT_TRUE(path_exists(dir.file("lightning_logs/version_0/checkpoints/epoch=1-step=12.ckpt")))
      << result.output;
  EXPECT_FALSE(path_exists(dir.file("lightning_logs/version_1")));
}

TEST(DDP, AccumulationSynchronisesOnlyTheSteppingBatchAndMatchesOneProcess) {
  TempDir dir;
  auto result = run_worker("fit", dir, {{"LIGHTNING_DDP_ACCUMULATE", "2"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_same(read_rank(dir.str(), 0).weights, single_process(8, 2).weights);
}

TEST(DDP, SyncBatchNormMatchesOneProcessWithTheWholeBatch) {
  TempDir dir;
  auto result = run_worker("fit", dir, {{"LIGHTNING_DDP_SYNC_BN", "1"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto rank0 = read_rank(dir.str(), 0);
  EXPECT_TRUE(rank0.weights.equal(read_rank(dir.str(), 1).weights));
  expect_same(rank0.weights, single_process(8, 1, /*batch_norm=*/true).weights);
}

TEST(DDP, SyncBatchNormIsBatchNormInOneProcess) {
  L::seed_everything(3);
  auto x = torch::randn({6, 5, 4}, torch::kDouble).requires_grad_(true);
  auto x2 = x.detach().clone().requires_grad_(true);
  L::nn::SyncBatchNorm sync(5);
  torch::nn::BatchNorm1d reference(5);
  sync->to(torch::kDouble);
  reference->to(torch::kDouble);
  for (int step = 0; step < 2; ++step) {
    auto a = sync->forward(x), b = reference->forward(x2);
    expect_same(a, b, 1e-5);
    (a * a).sum().backward();
    (b * b).sum().backward();
  }
  expect_same(x.grad(), x2.grad(), 1e-4);
  expect_same(sync->weight.grad(), reference->weight.grad(), 1e-4);
  expect_same(sync->running_var, reference->running_var, 1e-6);
  EXPECT_EQ(sync->num_batches_tracked.item<int64_t>(), 2);
  // Checkpoints see BatchNorm's names.
  std::vector<std::string> names;
  for (const auto& item : sync->named_buffers()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
}

TEST(DDP, SyncBatchnormRejectsATorchBatchNormItCannotReach) {
  torch::nn::Sequential net(torch::nn::Linear(4, 4), torch::nn::BatchNorm1d(4));
  L::strategies::SingleDeviceStrategy strategy;
  const auto message = error_of([&] { L::plugins::TorchSyncBatchNorm().apply(*net, strategy); });
  EXPECT_TRUE(contains(message, "sync_batchnorm=true: the module's '1' is a torch::nn::BatchNorm1d")) << message;
  EXPECT_TRUE(contains(message, "accepted: lightning::nn::SyncBatchNorm")) << message;
}

TEST(DDP, TwoNodesStartedByHandWithNodeRank) {
  TempDir dir;
  auto nodes = start_two_nodes(dir, [](int node) {
    return std::map<std::string, std::string>{{"NODE_RANK", std::to_string(node)}};
  });
  std::vector<std::string> outputs;
  for (auto& node : nodes) {
    auto result = node->wait(kTimeout);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    outputs.push_back(result.output);
  }
  // Messages meant once per run come from rank 0 (rank_zero_info).
  EXPECT_TRUE(contains(outputs[0], "`Trainer.fit` stopped: `max_epochs=2` reached.")) << outputs[0];
  EXPECT_FALSE(contains(outputs[1], "`Trainer.fit` stopped")) << outputs[1];
  std::ifstream ranks(dir.file("ranks_1.txt"));
  std::string line;
  std::getline(ranks, line);
  EXPECT_EQ(line, "1 0 1 2 1 2 6 12");
  expect_same(read_rank(dir.str(), 1).weights, single_process(8, 1).weights);
}

TEST(DDP, TorchrunAndSlurmVariablesAreUsedAsTheyAre) {
  for (const std::string style : {"torchrun", "slurm"}) {
    TempDir dir;
    auto ranks = start_two_nodes(dir, [&](int rank) {
      const auto r = std::to_string(rank);
      if (style == "torchrun")
        return std::map<std::string, std::string>{
            {"RANK", r}, {"LOCAL_RANK", "0"}, {"GROUP_RANK", r}, {"LOCAL_WORLD_SIZE", "1"}, {"WORLD_SIZE", "2"}};
      return std::map<std::string, std::string>{
          {"SLURM_NTASKS", "2"},     {"SLURM_PROCID", r},          {"SLURM_LOCALID", "0"},
          {"SLURM_NODEID", r},       {"SLURM_NNODES", "2"},        {"SLURM_NTASKS_PER_NODE", "1"},
          {"SLURM_JOB_NAME", "train"}, {"SLURM_JOB_ID", "4242"}, {"SLURM_JOB_NODELIST", "localhost"}};
    });
    for (auto& rank : ranks) {
      auto result = rank->wait(kTimeout);
      ASSERT_EQ(result.exit_code, 0) << style << ":\n" << result.output;
    }
    std::ifstream ranks_file(dir.file("ranks_1.txt"));
    std::string line;
    std::getline(ranks_file, line);
    EXPECT_EQ(line, "1 0 1 2 1 2 6 12") << style;
    EXPECT_TRUE(read_rank(dir.str(), 0).weights.equal(read_rank(dir.str(), 1).weights)) << style;
  }
}

TEST(DDP, AKilledRankStopsTheRunWithItsStatusAndLeavesNoProcess) {
  TempDir dir;
  auto result = run_worker("kill", dir);
  EXPECT_FALSE(result.timed_out) << result.output;
  EXPECT_EQ(result.exit_code, 128 + SIGKILL) << result.output;
  EXPECT_TRUE(contains(result.output, "the process of rank 1 (local rank 1")) << result.output;
  EXPECT_TRUE(contains(result.output, "was killed by signal 9 (SIGKILL)")) << result.output;
  EXPECT_FALSE(result.left_processes);
  EXPECT_LT(result.seconds, 60);
}

TEST(DDP, ARankThatThrowsStopsTheOthersWithAnErrorNamingIt) {
  TempDir dir;
  auto result = run_worker("throw", dir);
  EXPECT_FALSE(result.timed_out) << result.output;
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.output, "boom in training_step on rank 1")) << result.output;
  EXPECT_TRUE(contains(result.output, "rank 1")) << result.output;
  EXPECT_FALSE(result.left_processes);
}

TEST(DDP, EnvironmentThatDisagreesWithTheFlagsIsAnErrorNamingBoth) {
  // torchrun says 4 processes; the flags ask for 2 x 1.
  const std::map<std::string, std::string> vars{{"RANK", "0"}, {"LOCAL_RANK", "0"}, {"GROUP_RANK", "0"},
                                                {"LOCAL_WORLD_SIZE", "4"}, {"WORLD_SIZE", "4"},
                                                {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  const auto message = error_of([] {
    L::Trainer trainer(L::testing::quiet({.accelerator = "cpu", .devices = 2}));
    trainer.fit(std::make_shared<L::testing::BoringModel>());
  });
  for (const auto& [k, v] : vars) ::unsetenv(k.c_str());
  EXPECT_TRUE(contains(message, "`devices=2` and `num_nodes=1`")) << message;
  EXPECT_TRUE(contains(message, "world size (4)")) << message;
}

TEST(DDP, StrategyNamesAndFlagErrors) {
  L::Trainer auto_ddp(L::testing::quiet({.accelerator = "cpu", .devices = 2}));
  EXPECT_EQ(auto_ddp.strategy().name(), "ddp");
  EXPECT_EQ(auto_ddp.num_devices(), 2);
  EXPECT_EQ(auto_ddp.world_size(), 2);
  EXPECT_TRUE(auto_ddp.is_global_zero());
  L::Trainer unused(L::testing::quiet({.accelerator = "cpu", .strategy = "ddp_find_unused_parameters_true"}));
  auto* ddp = dynamic_cast<L::strategies::DDPStrategy*>(&unused.strategy());
  ASSERT_NE(ddp, nullptr);
  EXPECT_TRUE(ddp->options().find_unused_parameters);
  EXPECT_EQ(ddp->process_group_backend(), "gloo");
  EXPECT_EQ(L::Trainer(L::testing::quiet({.accelerator = "cpu", .strategy = "ddp_spawn", .devices = 2})).strategy().name(),
            "ddp_spawn");
  auto message = error_of([] {
    L::strategies::DDPStrategy bad(L::strategies::DDPStrategy::Options{.process_group_backend = "mpi"});
  });
  EXPECT_TRUE(contains(message, "process_group_backend='mpi'")) << message;
  message = error_of([] { L::strategies::DDPStrategy bad(L::strategies::DDPStrategy::Options{.start_method = "fork"}); });
  EXPECT_TRUE(contains(message, "start_method='fork'")) << message;
  EXPECT_TRUE(contains(message, "accepted: 'popen' (strategy='ddp'), 'spawn' (strategy='ddp_spawn')")) << message;
  message = error_of([] {
    L::Trainer t(L::testing::quiet({.accelerator = "cpu", .strategy = "single_device", .devices = 2}));
  });
  EXPECT_TRUE(contains(message, "strategy 'single_device' runs one")) << message;
}

TEST(DDP, APortInUseIsAClearError) {
  TempDir dir;
  // A listening socket holds the port for the whole test.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(fd, 1);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto result =
      run_worker("fit", dir, {{"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(ntohs(addr.sin_port))}});
  ::close(fd);
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(result.seconds, 60);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.output, "could not open the rendezvous at MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                                          std::to_string(ntohs(addr.sin_port))))
      << result.output;
  EXPECT_FALSE(result.left_processes);
}

TEST(DDP, ACheckpointSavedUnderDDPResumesUnderDDPAndOnOneProcessAndLoadsInPython) {
  TempDir first, resumed;
  {
    auto result = run_worker("fit", first, {{"LIGHTNING_DDP_MAX_EPOCHS", "1"}});
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  const auto ckpt = first.file("lightning_logs/version_0/checkpoints/epoch=0-step=6.ckpt");
  ASSERT_TRUE(path_exists(ckpt));
  const auto reference = single_process(8, 1);
  // Under DDP, the same world size: exactly where the uninterrupted run would be.
  auto result = run_worker("fit", resumed, {{"LIGHTNING_DDP_CKPT", ckpt}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // (1e-5: as in Lightning, the weights are restored into the module before precision="64-true"
  // converts it, so they pass through float32 once.)
  expect_same(read_rank(resumed.str(), 0).weights, reference.weights, 1e-5);
  EXPECT_TRUE(read_rank(resumed.str(), 0).weights.equal(read_rank(resumed.str(), 1).weights));
  // On one process, with both ranks' batches together.
  expect_same(single_process(8, 1, false, ckpt).weights, reference.weights, 1e-5);
  if (!L::testing::python_torch_available()) GTEST_SKIP() << "no python3-torch for the torch.load check";
  const auto py = L::testing::run_python(
      "import sys, torch\n"
      "c = torch.load(sys.argv[1], map_location='cpu')\n"
      "print(c['epoch'], c['global_step'], sorted(c['state_dict'])[0], len(c['optimizer_states']))\n",
      first.file("load.py"), "'" + ckpt + "'");
  EXPECT_EQ(py.exit_code, 0) << py.output;
  EXPECT_TRUE(contains(py.output, "0 6 net.0.bias 1")) << py.output;
}

TEST(DDP, RanksStartedWithDifferentFlagsFailNamingTheFlag) {
  TempDir dir;
  auto nodes = start_two_nodes(dir, [](int node) {
    return std::map<std::string, std::string>{{"NODE_RANK", std::to_string(node)},
                                              {"LIGHTNING_DDP_MAX_EPOCHS", node == 0 ? "2" : "3"}};
  });
  auto rank0 = nodes[0]->wait(kTimeout), rank1 = nodes[1]->wait(kTimeout);
  EXPECT_NE(rank0.exit_code, 0);
  EXPECT_NE(rank1.exit_code, 0);
  EXPECT_TRUE(contains(rank1.output, "Rank 1 was started with different Trainer flags than rank 0: max_epochs=3 "
                                     "where rank 0 has max_epochs=2"))
      << rank1.output;
  EXPECT_TRUE(contains(rank0.output, "Another rank was started with different Trainer flags than rank 0")) << rank0.output;
}

TEST(DDP, SpawnReturnsWeightsMetricsAndTheBestCheckpointToTheCaller) {
  TempDir dir;
  auto result =
      run_worker("fit", dir, {{"LIGHTNING_DDP_STRATEGY", "ddp_spawn"}, {"LIGHTNING_DDP_THEN_TEST", "1"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(result.left_processes);
  // fit, then test: the test's workers start from the weights the fit sent back.
  double test_loss = 0;
  std::ifstream(dir.file("test_loss_0.txt")) >> test_loss;
  // The caller trained nothing: what it wrote after fit is what rank 0 sent back.
  const auto caller = read_rank(dir.str(), 0);
  const auto reference = single_process(8, 1);
  expect_same(caller.weights, reference.weights);
  EXPECT_NEAR(caller.val_loss, reference.val_loss, 1e-6 * std::abs(reference.val_loss));
  EXPECT_NEAR(test_loss, reference.test_loss, 1e-6 * std::abs(reference.test_loss));
  std::ifstream best(dir.file("best_0.txt"));
  std::string path;
  std::getline(best, path);
  EXPECT_EQ(path, dir.file("lightning_logs/version_0/checkpoints/epoch=1-step=12.ckpt"));
  EXPECT_TRUE(path_exists(path));
  // The workers ended with their fit: none ran the rest of the program.
  EXPECT_FALSE(path_exists(dir.file("weights_1.pt")));
}

TEST(DDP, SpawnWithAWorkerKilledFailsInTheCallerNamingTheRank) {
  TempDir dir;
  auto result = run_worker("kill", dir, {{"LIGHTNING_DDP_STRATEGY", "ddp_spawn"}});
  EXPECT_FALSE(result.timed_out) << result.output;
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.output, "ddp_spawn: the process of rank 1 (local rank 1")) << result.output;
  EXPECT_TRUE(contains(result.output, "was killed by signal 9 (SIGKILL)")) << result.output;
  EXPECT_FALSE(result.left_processes);
}
