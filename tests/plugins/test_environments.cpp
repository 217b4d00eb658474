// Cluster environments: Lightning's default, torchrun and SLURM, read from environment variables.
#include <gtest/gtest.h>

#include <lightning/plugins/environments.h>
#include <lightning/utilities/errors.h>

#include "helpers/errors.h"

#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using lightning::plugins::ClusterEnvironment;
using lightning::plugins::detect_cluster_environment;
using lightning::plugins::LightningEnvironment;
using lightning::plugins::Plugin;
using lightning::plugins::SLURMEnvironment;
using lightning::plugins::TorchElasticEnvironment;
using lightning::testing::contains;
using lightning::testing::error_of;

// Sets (a value) or unsets (nullopt) variables for a scope and restores the previous values at
// its end, so that no test leaks its environment into the others of the one test process.
class ScopedEnv {
 public:
  using Vars = std::initializer_list<std::pair<const char*, std::optional<std::string>>>;
  explicit ScopedEnv(Vars vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value)
        ::setenv(name, value->c_str(), 1);
      else
        ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// Every variable an environment reads unset, whatever the machine running the tests has set
// (a CI job may itself run under SLURM or torchrun).
class Environments : public ::testing::Test {
 private:
  ScopedEnv clean_{{"MASTER_ADDR", std::nullopt},
                   {"MASTER_PORT", std::nullopt},
                   {"WORLD_SIZE", std::nullopt},
                   {"RANK", std::nullopt},
                   {"LOCAL_RANK", std::nullopt},
                   {"GROUP_RANK", std::nullopt},
                   {"NODE_RANK", std::nullopt},
                   {"LOCAL_WORLD_SIZE", std::nullopt},
                   {"TORCHELASTIC_RUN_ID", std::nullopt},
                   {"SLURM_NTASKS", std::nullopt},
                   {"SLURM_NTASKS_PER_NODE", std::nullopt},
                   {"SLURM_NNODES", std::nullopt},
                   {"SLURM_JOB_NAME", std::nullopt},
                   {"SLURM_JOB_ID", std::nullopt},
                   {"SLURM_NODELIST", std::nullopt},
                   {"SLURM_JOB_NODELIST", std::nullopt},
                   {"SLURM_PROCID", std::nullopt},
                   {"SLURM_LOCALID", std::nullopt},
                   {"SLURM_NODEID", std::nullopt}};
};

template <typename F>
std::string captured_stderr(F&& f) {
  ::testing::internal::CaptureStderr();
  f();
  return ::testing::internal::GetCapturedStderr();
}

// ---------------------------------------------------------------------------------------------
// The base

TEST_F(Environments, AreTrainerPlugins) {
  std::shared_ptr<Plugin> plugin = std::make_shared<SLURMEnvironment>();
  EXPECT_NE(std::dynamic_pointer_cast<ClusterEnvironment>(plugin), nullptr);
  EXPECT_EQ(LightningEnvironment().name(), "LightningEnvironment");
  EXPECT_EQ(TorchElasticEnvironment().name(), "TorchElasticEnvironment");
  EXPECT_EQ(SLURMEnvironment().name(), "SLURMEnvironment");
}

// ---------------------------------------------------------------------------------------------
// LightningEnvironment

TEST_F(Environments, LightningDefaults) {
  LightningEnvironment env;
  EXPECT_TRUE(LightningEnvironment::detect());
  EXPECT_FALSE(env.creates_processes_externally());
  EXPECT_EQ(env.main_address(), "127.0.0.1");
  EXPECT_EQ(env.world_size(), 1);
  EXPECT_EQ(env.global_rank(), 0);
  EXPECT_EQ(env.local_rank(), 0);
  EXPECT_EQ(env.node_rank(), 0);
  EXPECT_NO_THROW(env.validate_settings(8, 4));  // nothing to contradict
}

TEST_F(Environments, LightningReadsTheVariablesALauncherSets) {
  ScopedEnv vars({{"MASTER_ADDR", "1.2.3.4"}, {"MASTER_PORT", "500"}, {"LOCAL_RANK", "2"}, {"NODE_RANK", "3"}});
  LightningEnvironment env;
  EXPECT_TRUE(env.creates_processes_externally());
  EXPECT_EQ(env.main_address(), "1.2.3.4");
  EXPECT_EQ(env.main_port(), 500);
  EXPECT_EQ(env.local_rank(), 2);
  EXPECT_EQ(env.node_rank(), 3);
}

TEST_F(Environments, LightningNodeRankFallsBackToGroupRank) {
  ScopedEnv group({{"GROUP_RANK", "5"}});
  EXPECT_EQ(LightningEnvironment().node_rank(), 5);
  ScopedEnv node({{"NODE_RANK", "1"}});
  EXPECT_EQ(LightningEnvironment().node_rank(), 1);  // NODE_RANK wins
}

TEST_F(Environments, LightningWorldSizeAndRankAreSetByTheStrategy) {
  LightningEnvironment env;
  env.set_world_size(8);
  env.set_global_rank(5);
  EXPECT_EQ(env.world_size(), 8);
  EXPECT_EQ(env.global_rank(), 5);
}

TEST_F(Environments, LightningFreePortIsValidAndStable) {
  LightningEnvironment env;
  const int port = env.main_port();
  EXPECT_GT(port, 0);
  EXPECT_LE(port, 65535);
  EXPECT_EQ(env.main_port(), port);
  EXPECT_EQ(env.main_port(), port);
  // Chosen once: a MASTER_PORT set afterwards does not change it (as in Lightning).
  ScopedEnv vars({{"MASTER_PORT", "1234"}});
  EXPECT_EQ(env.main_port(), port);
  EXPECT_EQ(LightningEnvironment().main_port(), 1234);
}

TEST_F(Environments, LightningTeardownUnsetsWorldSize) {
  ScopedEnv vars({{"WORLD_SIZE", "4"}});
  LightningEnvironment env;
  env.teardown();
  EXPECT_EQ(std::getenv("WORLD_SIZE"), nullptr);
  EXPECT_NO_THROW(env.teardown());  // already unset
}

TEST_F(Environments, BadIntegersNameTheVariableAndValue) {
  {
    ScopedEnv vars({{"LOCAL_RANK", "abc"}});
    const auto message = error_of([] { LightningEnvironment().local_rank(); });
    EXPECT_TRUE(contains(message, "LOCAL_RANK='abc'")) << message;
    EXPECT_TRUE(contains(message, "an integer is accepted")) << message;
  }
  {
    ScopedEnv vars({{"RANK", "abc"}});
    const auto message = error_of([] { TorchElasticEnvironment().global_rank(); });
    EXPECT_TRUE(contains(message, "RANK='abc'")) << message;
    EXPECT_TRUE(contains(message, "an integer is accepted")) << message;
  }
  {
    ScopedEnv vars({{"SLURM_NTASKS", "4x"}});
    const auto message = error_of([] { SLURMEnvironment().world_size(); });
    EXPECT_TRUE(contains(message, "SLURM_NTASKS='4x'")) << message;
  }
  {
    ScopedEnv vars({{"NODE_RANK", ""}});
    EXPECT_TRUE(contains(error_of([] { LightningEnvironment().node_rank(); }), "NODE_RANK=''"));
  }
  {
    ScopedEnv vars({{"MASTER_PORT", "99999"}});
    const auto message = error_of([] { LightningEnvironment().main_port(); });
    EXPECT_TRUE(contains(message, "MASTER_PORT=99999")) << message;
    EXPECT_TRUE(contains(message, "[1, 65535]")) << message;
  }
  {
    ScopedEnv vars({{"SLURM_JOB_ID", "job"}});
    EXPECT_TRUE(contains(error_of([] { SLURMEnvironment().main_port(); }), "SLURM_JOB_ID='job'"));
  }
}

TEST_F(Environments, IntegersAcceptWhatPythonsIntAccepts) {
  ScopedEnv vars({{"LOCAL_RANK", " 3 "}, {"NODE_RANK", "+2"}, {"GROUP_RANK", "-1"}});
  EXPECT_EQ(LightningEnvironment().local_rank(), 3);
  EXPECT_EQ(LightningEnvironment().node_rank(), 2);
  ScopedEnv more({{"NODE_RANK", "+-2"}});
  EXPECT_TRUE(contains(error_of([] { LightningEnvironment().node_rank(); }), "NODE_RANK='+-2'"));
}

// ---------------------------------------------------------------------------------------------
// TorchElasticEnvironment

// What torchrun sets on the second of two nodes with four processes each.
const ScopedEnv::Vars kTorchrun = {{"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}, {"WORLD_SIZE", "8"},
                                   {"RANK", "5"},               {"LOCAL_RANK", "1"},      {"GROUP_RANK", "1"},
                                   {"LOCAL_WORLD_SIZE", "4"}};

TEST_F(Environments, TorchElasticReadsTorchrunsVariables) {
  ScopedEnv vars(kTorchrun);
  TorchElasticEnvironment env;
  EXPECT_TRUE(TorchElasticEnvironment::detect());
  EXPECT_TRUE(env.creates_processes_externally());
  EXPECT_EQ(env.main_address(), "10.0.0.1");
  EXPECT_EQ(env.main_port(), 29500);
  EXPECT_EQ(env.world_size(), 8);
  EXPECT_EQ(env.global_rank(), 5);
  EXPECT_EQ(env.local_rank(), 1);
  EXPECT_EQ(env.node_rank(), 1);
  EXPECT_NO_THROW(env.validate_settings(4, 2));
}

TEST_F(Environments, TorchElasticSettersAreIgnoredWithAWarningWhenTheyDisagree) {
  ScopedEnv vars(kTorchrun);
  TorchElasticEnvironment env;
  const auto same = captured_stderr([&] {
    env.set_world_size(8);
    env.set_global_rank(5);
  });
  EXPECT_EQ(same, "");
  const auto warned = captured_stderr([&] {
    env.set_world_size(100);
    env.set_global_rank(100);
  });
  EXPECT_EQ(env.world_size(), 8);
  EXPECT_EQ(env.global_rank(), 5);
  EXPECT_TRUE(contains(warned, "setting it is not allowed. Ignored.")) << warned;
  EXPECT_TRUE(contains(warned, "WORLD_SIZE=8")) << warned;
  EXPECT_TRUE(contains(warned, "RANK=5")) << warned;
}

TEST_F(Environments, TorchElasticNeedsItsVariables) {
  TorchElasticEnvironment env;
  EXPECT_TRUE(contains(error_of([&] { env.main_address(); }), "MASTER_ADDR"));
  EXPECT_TRUE(contains(error_of([&] { env.main_port(); }), "MASTER_PORT"));
  EXPECT_TRUE(contains(error_of([&] { env.world_size(); }), "WORLD_SIZE"));
  EXPECT_TRUE(contains(error_of([&] { env.global_rank(); }), "RANK"));
  EXPECT_TRUE(contains(error_of([&] { env.local_rank(); }), "LOCAL_RANK"));
  EXPECT_EQ(env.node_rank(), 0);  // GROUP_RANK defaults to 0, as in Lightning
  EXPECT_NO_THROW(env.set_world_size(3));  // nothing to compare with: no warning, no error
}

TEST_F(Environments, TorchElasticDetectionNeedsAllFourVariables) {
  EXPECT_FALSE(TorchElasticEnvironment::detect());
  ScopedEnv some({{"RANK", "0"}, {"GROUP_RANK", "0"}, {"LOCAL_RANK", "0"}});
  EXPECT_FALSE(TorchElasticEnvironment::detect());
  ScopedEnv all({{"LOCAL_WORLD_SIZE", "1"}});
  EXPECT_TRUE(TorchElasticEnvironment::detect());
}

TEST_F(Environments, TorchElasticValidatesDevicesAndNodesAgainstTheWorldSize) {
  ScopedEnv vars({{"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "4"}});
  TorchElasticEnvironment env;
  const auto message = error_of([&] { env.validate_settings(2, 1); });
  EXPECT_TRUE(contains(message,
                       "You set `devices=2` and `num_nodes=1` in Lightning, but the product (2 * 1) does not match "
                       "the world size (4)."))
      << message;
  // The right product but the wrong split across nodes.
  const auto split = error_of([&] { env.validate_settings(2, 2); });
  EXPECT_TRUE(contains(split, "`devices=2`")) << split;
  EXPECT_TRUE(contains(split, "LOCAL_WORLD_SIZE")) << split;
  EXPECT_TRUE(contains(split, "HINT: Set `devices=4`.")) << split;
  EXPECT_NO_THROW(env.validate_settings(4, 1));
}

// ---------------------------------------------------------------------------------------------
// SLURMEnvironment

TEST_F(Environments, SlurmDefaults) {
  SLURMEnvironment env;
  EXPECT_TRUE(env.creates_processes_externally());
  EXPECT_EQ(env.main_address(), "127.0.0.1");
  EXPECT_EQ(env.main_port(), 12910);
  EXPECT_EQ(SLURMEnvironment::job_name(), std::nullopt);
  EXPECT_EQ(SLURMEnvironment::job_id(), std::nullopt);
  EXPECT_TRUE(contains(error_of([&] { env.world_size(); }), "SLURM_NTASKS"));
  EXPECT_TRUE(contains(error_of([&] { env.global_rank(); }), "SLURM_PROCID"));
  EXPECT_TRUE(contains(error_of([&] { env.local_rank(); }), "SLURM_LOCALID"));
  EXPECT_TRUE(contains(error_of([&] { env.node_rank(); }), "SLURM_NODEID"));
}

TEST_F(Environments, SlurmReadsSrunsVariables) {
  ScopedEnv vars({{"SLURM_NODELIST", "1.1.1.1, 1.1.1.2"},
                  {"SLURM_JOB_ID", "0001234"},
                  {"SLURM_NTASKS", "20"},
                  {"SLURM_NTASKS_PER_NODE", "10"},
                  {"SLURM_LOCALID", "2"},
                  {"SLURM_PROCID", "1"},
                  {"SLURM_NODEID", "3"},
                  {"SLURM_JOB_NAME", "JOB"}});
  SLURMEnvironment env;
  EXPECT_EQ(env.main_address(), "1.1.1.1");
  EXPECT_EQ(env.main_port(), 15000 + 1234);
  EXPECT_EQ(SLURMEnvironment::job_id(), 1234);
  EXPECT_EQ(SLURMEnvironment::job_name(), "JOB");
  EXPECT_EQ(env.world_size(), 20);
  EXPECT_EQ(env.global_rank(), 1);
  EXPECT_EQ(env.local_rank(), 2);
  EXPECT_EQ(env.node_rank(), 3);
  const auto warned = captured_stderr([&] {
    env.set_global_rank(100);
    env.set_world_size(100);
  });
  EXPECT_EQ(env.global_rank(), 1);
  EXPECT_EQ(env.world_size(), 20);
  EXPECT_TRUE(contains(warned, "SLURM_PROCID=1")) << warned;
  EXPECT_TRUE(contains(warned, "SLURM_NTASKS=20")) << warned;
  EXPECT_EQ(captured_stderr([&] { env.set_world_size(20); }), "");
}

TEST_F(Environments, SlurmPortUsesTheLastFourDigitsOfTheJobId) {
  ScopedEnv vars({{"SLURM_JOB_ID", "987654321"}});
  EXPECT_EQ(SLURMEnvironment().main_port(), 15000 + 4321);
  ScopedEnv short_id({{"SLURM_JOB_ID", "42"}});
  EXPECT_EQ(SLURMEnvironment().main_port(), 15042);
}

TEST_F(Environments, SlurmMasterAddrAndPortOverride) {
  ScopedEnv vars({{"SLURM_NODELIST", "node[1-3]"}, {"SLURM_JOB_ID", "1234"}, {"MASTER_ADDR", "1.2.3.4"},
                  {"MASTER_PORT", "1234"}});
  SLURMEnvironment env;
  EXPECT_EQ(env.main_address(), "1.2.3.4");
  EXPECT_EQ(env.main_port(), 1234);
}

TEST_F(Environments, SlurmFallsBackToTheJobNodeList) {
  ScopedEnv vars({{"SLURM_JOB_NODELIST", "gpu[07-09]"}});
  EXPECT_EQ(SLURMEnvironment().main_address(), "gpu07");
  ScopedEnv both({{"SLURM_NODELIST", "cpu[3]"}});
  EXPECT_EQ(SLURMEnvironment().main_address(), "cpu3");  // SLURM_NODELIST wins
}

TEST_F(Environments, SlurmRootNodeResolution) {
  // Lightning's own cases (tests_fabric/plugins/environments/test_slurm.py) and the brief's.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"127.0.0.1", "127.0.0.1"},
      {"alpha", "alpha"},
      {"alpha,beta,gamma", "alpha"},
      {"alpha beta gamma", "alpha"},
      {"1.2.3.[100-110]", "1.2.3.100"},
      {"1.2.3.[089, 100-110]", "1.2.3.089"},
      {"host[22]", "host22"},
      {"host[1,5-9]", "host1"},
      {"host[5-9,1]", "host5"},
      {"alpha, host[5-9], gamma", "alpha"},
      {"alpha[3,1], beta", "alpha3"},
      {"node[1-3,5]", "node1"},
      {"a1,a2", "a1"},
      {"host[001-004]", "host001"},
      {"n[2,7]x", "n2x"},
      {"a[1-2],b[3-4]", "a1"},
      {"x[7]y[8]", "x7y8"},
      {"", ""},
  };
  for (const auto& [nodes, expected] : cases)
    EXPECT_EQ(SLURMEnvironment::resolve_root_node_address(nodes), expected) << "nodes: " << nodes;
}

TEST_F(Environments, SlurmDetection) {
  EXPECT_FALSE(SLURMEnvironment::detect());
  {
    ScopedEnv vars({{"SLURM_NTASKS", "2"}});
    EXPECT_TRUE(SLURMEnvironment::detect());
  }
  for (const char* name : {"bash", "interactive"}) {
    ScopedEnv vars({{"SLURM_NTASKS", "2"}, {"SLURM_JOB_NAME", name}, {"SLURM_JOB_ID", "77"}});
    EXPECT_FALSE(SLURMEnvironment::detect()) << name;
    EXPECT_EQ(SLURMEnvironment::job_id(), std::nullopt) << name;  // interactive jobs share no id
  }
  {
    ScopedEnv vars({{"SLURM_NTASKS", "2"}, {"SLURM_JOB_NAME", "train"}});
    EXPECT_TRUE(SLURMEnvironment::detect());
  }
}

TEST_F(Environments, SlurmValidatesDevicesAndNodes) {
  ScopedEnv vars({{"SLURM_NTASKS", "8"}, {"SLURM_NTASKS_PER_NODE", "4"}, {"SLURM_NNODES", "2"}});
  SLURMEnvironment env;
  EXPECT_NO_THROW(env.validate_settings(4, 2));
  const auto devices = error_of([&] { env.validate_settings(2, 2); });
  EXPECT_TRUE(contains(devices,
                       "You set `devices=2` in Lightning, but the number of tasks per node configured in SLURM "
                       "`--ntasks-per-node=4` does not match. HINT: Set `devices=4`."))
      << devices;
  const auto nodes = error_of([&] { env.validate_settings(4, 1); });
  EXPECT_TRUE(contains(nodes,
                       "You set `num_nodes=1` in Lightning, but the number of nodes configured in SLURM `--nodes=2` "
                       "does not match. HINT: Set `num_nodes=2`."))
      << nodes;
  {
    ScopedEnv interactive({{"SLURM_JOB_NAME", "interactive"}});
    EXPECT_NO_THROW(env.validate_settings(2, 1));  // skipped in interactive mode
  }
}

TEST_F(Environments, SlurmRejectsNtasksWithoutNtasksPerNode) {
  ScopedEnv vars({{"SLURM_NTASKS", "4"}});
  const auto message = error_of([] { SLURMEnvironment().validate_settings(4, 1); });
  EXPECT_TRUE(contains(message, "You set `--ntasks=4` in your SLURM bash script, but this variable is not supported. "
                                "HINT: Use `--ntasks-per-node=4` instead."))
      << message;
  ScopedEnv single({{"SLURM_NTASKS", "1"}});
  EXPECT_NO_THROW(SLURMEnvironment().validate_settings(1, 1));
}

// ---------------------------------------------------------------------------------------------
// Detection order

TEST_F(Environments, DetectionPrefersTorchrunThenSlurmThenLightning) {
  EXPECT_NE(std::dynamic_pointer_cast<LightningEnvironment>(detect_cluster_environment()), nullptr);
  {
    ScopedEnv slurm({{"SLURM_NTASKS", "2"}});
    EXPECT_NE(std::dynamic_pointer_cast<SLURMEnvironment>(detect_cluster_environment()), nullptr);
    // torchrun inside a SLURM allocation
    ScopedEnv torchrun({{"RANK", "0"}, {"GROUP_RANK", "0"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "2"}});
    EXPECT_NE(std::dynamic_pointer_cast<TorchElasticEnvironment>(detect_cluster_environment()), nullptr);
  }
  {
    // An interactive SLURM job with processes launched by hand is Lightning's.
    ScopedEnv vars({{"SLURM_NTASKS", "2"}, {"SLURM_JOB_NAME", "bash"}, {"LOCAL_RANK", "1"}});
    auto env = detect_cluster_environment();
    EXPECT_NE(std::dynamic_pointer_cast<LightningEnvironment>(env), nullptr);
    EXPECT_TRUE(env->creates_processes_externally());
  }
}

}  // namespace
