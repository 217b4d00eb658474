// How long a checkpoint save stalls the training thread: synchronous TorchCheckpointIO (the
// whole write, fsync included) against AsyncCheckpointIO (until save_checkpoint returns: the
// snapshot copy). State: 6 Linear(4096, 4096) layers, about 100.7M float parameters (403 MB),
// written to a temporary folder under $TMPDIR (default /tmp) that is removed afterwards.
// The first asynchronous save copies into fresh memory; later ones reuse its buffers, as in a
// training run that checkpoints periodically (teardown() is only called at the end).
//
//   ./build/bench/async_checkpoint [layers] [rounds]
#include "stats.h"

#include <lightning/plugins/checkpoint_io.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Counts finished saves, so the benchmark can wait for one without calling teardown().
struct CountingIO : lightning::plugins::TorchCheckpointIO {
  std::atomic<int> saved{0};
  void save_checkpoint(const c10::IValue& checkpoint, const std::string& path) override {
    TorchCheckpointIO::save_checkpoint(checkpoint, path);
    ++saved;
  }
};

}  // namespace

using bench::median;

int main(int argc, char** argv) {
  const int layers = argc > 1 ? std::atoi(argv[1]) : 6;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const int64_t width = 4096;

  c10::impl::GenericDict state_dict(c10::StringType::get(), c10::AnyType::get());
  std::vector<at::Tensor> weights;
  int64_t parameters = 0;
  for (int i = 0; i < layers; ++i) {
    weights.push_back(at::randn({width, width}));
    state_dict.insert(fmt::format("layers.{}.weight", i), weights.back());
    state_dict.insert(fmt::format("layers.{}.bias", i), at::randn({width}));
    parameters += width * width + width;
  }
  c10::impl::GenericDict checkpoint(c10::StringType::get(), c10::AnyType::get());
  checkpoint.insert("epoch", int64_t{0});
  checkpoint.insert("global_step", int64_t{0});
  checkpoint.insert("state_dict", state_dict);

  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/lightning-bench-XXXXXX";
  if (!::mkdtemp(pattern.data())) return 1;
  const std::string folder = pattern;

  lightning::plugins::TorchCheckpointIO sync_io;
  auto counting = std::make_shared<CountingIO>();
  lightning::plugins::AsyncCheckpointIO async_io(counting);
  std::vector<double> sync_times, stalls, async_totals;
  for (int round = 0; round < rounds; ++round) {
    auto start = Clock::now();
    sync_io.save_checkpoint(checkpoint, folder + "/sync.ckpt");
    sync_times.push_back(seconds_since(start));

    start = Clock::now();
    async_io.save_checkpoint(checkpoint, folder + "/async.ckpt");
    stalls.push_back(seconds_since(start));
    weights[0].add_(1.0);  // training goes on while the file is written
    while (counting->saved.load() <= round) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    async_totals.push_back(seconds_since(start));
  }
  async_io.teardown();
  ::unlink((folder + "/sync.ckpt").c_str());
  ::unlink((folder + "/async.ckpt").c_str());
  ::rmdir(folder.c_str());

  const double sync = median(sync_times), stall = median(stalls);
  fmt::print("parameters: {:.1f}M ({:.0f} MB), intra-op threads: {}, rounds: {}\n", parameters / 1e6,
             parameters * 4 / 1e6, at::get_num_threads(), rounds);
  fmt::print("TorchCheckpointIO::save_checkpoint:         {:.3f} s (median)\n", sync);
  fmt::print("AsyncCheckpointIO::save_checkpoint returns: {:.3f} s (median; first {:.3f} s; background save done after {:.3f} s)\n",
             stall, stalls.front(), median(async_totals));
  fmt::print("stall ratio async/sync: {:.3f} (target <= 0.1)\n", stall / sync);
  return 0;
}
