// Accelerators: Lightning's parsing of `devices`, the registry, and a user's accelerator object.
#include "helpers/boring_model.h"
#include "helpers/errors.h"

#include <torch/cuda.h>

#include <gtest/gtest.h>

using namespace lightning;
using namespace lightning::testing;
using accelerators::AcceleratorRegistry;
using accelerators::CPUAccelerator;
using accelerators::CUDAAccelerator;

namespace {

std::vector<int64_t> ids(std::initializer_list<int64_t> v) { return v; }

/// A CUDA accelerator that reports four GPUs, to check the parsing of GPU indices without one.
struct FourGPUs : CUDAAccelerator {
  int64_t auto_device_count() const override { return 4; }
};

}  // namespace

TEST(Accelerators, CPUDevicesAreACountOfProcesses) {
  CPUAccelerator cpu;
  EXPECT_EQ(cpu.parse_devices(1), ids({0}));
  EXPECT_EQ(cpu.parse_devices(3), ids({0, 1, 2}));
  EXPECT_EQ(cpu.parse_devices("3"), ids({0, 1, 2}));  // a count, not an index
  EXPECT_EQ(cpu.parse_devices("auto"), ids({0}));
  EXPECT_EQ(cpu.parse_devices(-1), ids({0}));
  EXPECT_EQ(cpu.parse_devices("-1"), ids({0}));
  EXPECT_EQ(cpu.get_parallel_devices(2), (std::vector<torch::Device>(2, torch::kCPU)));
  // The last three were found by fuzz/flag_strings_fuzzer: a vector of 10^10 ids, std::stoll's out_of_range.
  for (const Devices& bad : {Devices(0), Devices(-2), Devices("abc"), Devices("0,1"), Devices(std::vector<int>{0}),
                             Devices("6488888888"), Devices(4097), Devices("99999999999999999999999")}) {
    auto err = error_of([&] { cpu.parse_devices(bad); });
    EXPECT_TRUE(contains(err, "devices=" + bad.str() + " is invalid with the CPUAccelerator")) << err;
    EXPECT_TRUE(contains(err, "accepted: an int in [1, 4096]")) << err;
  }
  EXPECT_TRUE(cpu.is_available());
  EXPECT_EQ(cpu.auto_device_count(), 1);
  EXPECT_EQ(cpu.name(), "cpu");
  auto err = error_of([&] { cpu.setup_device(torch::Device(torch::kCUDA, 0)); });
  EXPECT_TRUE(contains(err, "CPUAccelerator: the device should be the CPU, got cuda:0")) << err;
}

TEST(Accelerators, CPUDeviceStatsHaveLightningsNames) {
  auto stats = CPUAccelerator().get_device_stats(torch::kCPU);
  for (const char* key : {"cpu_vm_percent", "cpu_percent", "cpu_swap_percent"}) {
    ASSERT_TRUE(stats.count(key)) << key;
    EXPECT_GE(stats[key], 0.0) << key;
    EXPECT_LE(stats[key], 100.0) << key;
  }
  EXPECT_GT(stats["cpu_vm_percent"], 0.0);
}

TEST(Accelerators, GPUDevicesAsLightningParsesThem) {
  FourGPUs gpus;
  EXPECT_EQ(gpus.parse_devices(2), ids({0, 1}));
  EXPECT_EQ(gpus.parse_devices(-1), ids({0, 1, 2, 3}));
  EXPECT_EQ(gpus.parse_devices("-1"), ids({0, 1, 2, 3}));
  EXPECT_EQ(gpus.parse_devices("auto"), ids({0, 1, 2, 3}));
  EXPECT_EQ(gpus.parse_devices("3"), ids({0, 1, 2}));  // Lightning: a string of one number is a count
  EXPECT_EQ(gpus.parse_devices("0,2"), ids({0, 2}));
  EXPECT_EQ(gpus.parse_devices(" 1 , 3 "), ids({1, 3}));
  EXPECT_EQ(gpus.parse_devices("1,"), ids({1}));  // an index
  EXPECT_EQ(gpus.parse_devices(std::vector<int>{3, 1}), ids({3, 1}));
  const std::pair<Devices, const char*> bad[] = {
      {Devices(0), "it selects no GPU"},
      {Devices(5), "5 GPU(s) asked for, 4 available"},
      {Devices("0"), "it selects no GPU"},
      {Devices(std::vector<int>{1, 1}), "an index appears twice"},
      {Devices(std::vector<int>{4}), "GPU 4 does not exist"},
      {Devices(std::vector<int>{}), "it selects no GPU"},
      {Devices("x"), "not a number"},
  };
  for (const auto& [devices, why] : bad) {
    // An init-capture: clang 14 (scripts/check-libtorch2) cannot capture a structured binding.
    auto err = error_of([&, &devices = devices] { gpus.parse_devices(devices); });
    EXPECT_TRUE(contains(err, "devices=" + devices.str() + " is invalid with the CUDAAccelerator: " + why)) << err;
  }
  EXPECT_EQ(gpus.get_parallel_devices("1,3"),
            (std::vector<torch::Device>{torch::Device(torch::kCUDA, 1), torch::Device(torch::kCUDA, 3)}));
}

TEST(Accelerators, RegistryNamesAndErrors) {
  auto& registry = AcceleratorRegistry::instance();
  auto names = registry.available_accelerators();
  EXPECT_NE(std::find(names.begin(), names.end(), "cpu"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  EXPECT_EQ(registry.get("cpu")->name(), "cpu");
  EXPECT_EQ(registry.description("cuda"), "CUDAAccelerator");
  auto err = error_of([&] { registry.get("tpu"); });
  EXPECT_TRUE(contains(err, "accelerator='tpu' is not supported by this build; accepted: 'auto', 'gpu', 'cpu', 'cuda'"))
      << err;
  err = error_of([&] { registry.register_accelerator("cpu", [] { return std::make_shared<CPUAccelerator>(); }); });
  EXPECT_TRUE(contains(err, "cannot register 'cpu': it is already registered")) << err;
  err = error_of([&] { registry.register_accelerator("auto", [] { return std::make_shared<CPUAccelerator>(); }); });
  EXPECT_TRUE(contains(err, "cannot register 'auto'")) << err;
  err = error_of([&] { registry.register_accelerator("none", nullptr); });
  EXPECT_TRUE(contains(err, "the factory is empty")) << err;
}

namespace {

/// The seed docs' example: `class MyOwnAcc(CPUAccelerator): ...; Trainer(accelerator=MyOwnAcc())`.
struct MyOwnAcc : CPUAccelerator {
  int setups = 0, teardowns = 0;
  void setup_device(const torch::Device& device) override {
    ++setups;
    CPUAccelerator::setup_device(device);
  }
  void teardown() override { ++teardowns; }
};

}  // namespace

TEST(Accelerators, AUserAcceleratorObjectRunsTheFit) {
  auto accelerator = std::make_shared<MyOwnAcc>();
  Trainer trainer(quiet({.accelerator = accelerator, .max_epochs = 1, .limit_train_batches = 2, .limit_val_batches = 0}));
  EXPECT_EQ(&trainer.accelerator(), accelerator.get());
  auto model = std::make_shared<BoringModel>();
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_EQ(accelerator->setups, 1);
  EXPECT_EQ(accelerator->teardowns, 1);
  trainer.test(model, DataLoaders{}, std::nullopt, /*verbose=*/false);
  EXPECT_EQ(accelerator->setups, 2);  // every run sets its device up
}

TEST(Accelerators, ARegisteredAcceleratorIsSelectedByName) {
  auto& registry = AcceleratorRegistry::instance();
  registry.register_accelerator("my_cpu", [] { return std::make_shared<MyOwnAcc>(); }, "mine", /*override=*/true);
  Trainer trainer(quiet({.accelerator = "my_cpu"}));
  EXPECT_NE(dynamic_cast<MyOwnAcc*>(&trainer.accelerator()), nullptr);
  registry.remove("my_cpu");
  EXPECT_FALSE(registry.contains("my_cpu"));
}

TEST(Accelerators, TrainerDeviceProperties) {
  Trainer trainer(quiet());
  EXPECT_EQ(trainer.accelerator().name(), "cpu");
  EXPECT_EQ(trainer.num_devices(), 1);
  EXPECT_EQ(trainer.device_ids(), ids({0}));
  EXPECT_EQ(trainer.num_nodes(), 1);
  EXPECT_EQ(trainer.device(), torch::Device(torch::kCPU));
  EXPECT_EQ(trainer.world_size(), 1);
  EXPECT_EQ(trainer.global_rank(), 0);
  EXPECT_EQ(trainer.local_rank(), 0);
  EXPECT_EQ(trainer.node_rank(), 0);
  EXPECT_TRUE(trainer.is_global_zero());
}

TEST(Accelerators, SeveralDevicesOrNodesSelectDDP) {
  for (const auto& [devices, n] : {std::pair{Devices(2), 2}, std::pair{Devices("3"), 3}}) {
    Trainer t(quiet({.devices = devices}));
    EXPECT_EQ(t.strategy().name(), "ddp") << devices.str();
    EXPECT_EQ(t.num_devices(), n);
    EXPECT_EQ(t.world_size(), n);
    EXPECT_TRUE(t.is_global_zero());
  }
  Trainer nodes(quiet({.num_nodes = 2}));
  EXPECT_EQ(nodes.strategy().name(), "ddp");
  EXPECT_EQ(nodes.num_nodes(), 2);
  EXPECT_EQ(nodes.world_size(), 2);
  auto err = error_of([] { Trainer t(quiet({.strategy = "single_device", .devices = 2})); });
  EXPECT_TRUE(contains(err, "devices=2 and num_nodes=1 select 2 process(es), and strategy 'single_device' runs one"))
      << err;
  err = error_of([] { Trainer t(quiet({.strategy = "single_device", .num_nodes = 2})); });
  EXPECT_TRUE(contains(err, "num_nodes=2")) << err;
}

TEST(Accelerators, GPUWithoutCUDAIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU";
  for (const char* name : {"gpu", "cuda"}) {
    auto err = error_of([&] { Trainer t(quiet({.accelerator = name})); });
    EXPECT_TRUE(contains(err, fmt::format("accelerator='{}' is not available: no CUDA device was found", name))) << err;
  }
  EXPECT_EQ(Trainer(quiet({.accelerator = "auto"})).accelerator().name(), "cpu");
}
