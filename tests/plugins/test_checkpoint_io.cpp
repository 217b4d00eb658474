// CheckpointIO plugins: the synchronous default and AsyncCheckpointIO's background thread.
#include <gtest/gtest.h>

#include <lightning/checkpoint/serialization.h>
#include <lightning/plugins/checkpoint_io.h>
#include <lightning/utilities/errors.h>

#include "helpers/errors.h"
#include "helpers/temp_dir.h"

#include <torch/torch.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

namespace {

using lightning::CheckpointError;
using lightning::plugins::AsyncCheckpointIO;
using lightning::plugins::CheckpointIO;
using lightning::plugins::TorchCheckpointIO;
using lightning::testing::TempDir;

c10::impl::GenericDict checkpoint(const torch::Tensor& weights, int64_t step) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("step", step);
  d.insert("weights", weights);
  return d;
}
c10::IValue at(const c10::IValue& dict, const char* key) { return dict.toGenericDict().at(key); }
bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Records the order of saves, each taking `delay` (after `gate` opens, if given), and fails
// the paths that contain "fail".
class RecordingIO : public CheckpointIO {
 public:
  explicit RecordingIO(std::chrono::milliseconds delay, std::shared_future<void> gate = {})
      : delay_(delay), gate_(std::move(gate)) {}
  void save_checkpoint(const c10::IValue& checkpoint, const std::string& path) override {
    if (gate_.valid()) gate_.wait();
    std::this_thread::sleep_for(delay_);
    ++attempts;
    if (path.find("fail") != std::string::npos) throw CheckpointError("cannot write checkpoint '" + path + "': boom");
    std::lock_guard<std::mutex> lock(mutex_);
    saved_.push_back(path);
  }
  c10::IValue load_checkpoint(const std::string& path) override { return path; }
  void remove_checkpoint(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mutex_);
    saved_.push_back("removed " + path);
  }
  std::atomic<int> attempts{0};
  std::vector<std::string> saved() {
    std::lock_guard<std::mutex> lock(mutex_);
    return saved_;
  }

 private:
  std::chrono::milliseconds delay_;
  std::shared_future<void> gate_;
  std::mutex mutex_;
  std::vector<std::string> saved_;
};

TEST(CheckpointIO, TorchCheckpointIOSavesLoadsRemoves) {
  TempDir dir;
  TorchCheckpointIO io;
  io.save_checkpoint(checkpoint(torch::arange(4), 5), dir.file("a.ckpt"));
  auto loaded = io.load_checkpoint(dir.file("a.ckpt"));
  EXPECT_EQ(at(loaded, "step").toInt(), 5);
  EXPECT_TRUE(at(loaded, "weights").toTensor().equal(torch::arange(4)));
  io.remove_checkpoint(dir.file("a.ckpt"));
  EXPECT_FALSE(exists(dir.file("a.ckpt")));
  io.remove_checkpoint(dir.file("a.ckpt"));  // already gone: not an error
}

TEST(CheckpointIO, AsyncSnapshotIgnoresLaterUpdates) {
  TempDir dir;
  AsyncCheckpointIO io;
  auto weights = torch::ones({1 << 18});
  auto view = weights.slice(0, 10, 20);
  auto d = checkpoint(weights, 1);
  d.insert("view", view);
  d.insert("conj", torch::complex(torch::ones({2}), torch::ones({2})).conj());  // a lazy conjugate view
  io.save_checkpoint(d, dir.file("a.ckpt"));
  weights.fill_(2);  // training goes on right away
  d.insert_or_assign("step", int64_t{2});
  io.teardown();
  auto loaded = io.load_checkpoint(dir.file("a.ckpt"));
  EXPECT_EQ(at(loaded, "step").toInt(), 1);
  EXPECT_TRUE(at(loaded, "weights").toTensor().eq(1).all().item<bool>());
  EXPECT_TRUE(at(loaded, "conj").toTensor().equal(torch::complex(torch::ones({2}), -torch::ones({2}))));
  auto loaded_view = at(loaded, "view").toTensor();
  EXPECT_TRUE(loaded_view.storage().is_alias_of(at(loaded, "weights").toTensor().storage()));  // still a view
  EXPECT_EQ(loaded_view.storage_offset(), 10);
}

TEST(CheckpointIO, AsyncSavesInOrderWithoutBlocking) {
  auto inner = std::make_shared<RecordingIO>(std::chrono::milliseconds(50));
  AsyncCheckpointIO io(inner);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) io.save_checkpoint(checkpoint(torch::zeros({4}), i), "ckpt" + std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  io.remove_checkpoint("ckpt0");  // waits for the saves before it
  EXPECT_EQ(inner->saved(), (std::vector<std::string>{"ckpt0", "ckpt1", "ckpt2", "ckpt3", "ckpt4", "removed ckpt0"}));
}

template <typename F>
std::string error_of(F&& f) {
  return lightning::testing::error_of<CheckpointError>(std::forward<F>(f));
}

TEST(CheckpointIO, AsyncErrorSurfacesOnNextCall) {
  std::promise<void> open;
  auto inner = std::make_shared<RecordingIO>(std::chrono::milliseconds(0), open.get_future().share());
  AsyncCheckpointIO io(inner);
  auto small = checkpoint(torch::zeros({4}), 0);
  io.save_checkpoint(small, "fail-1");
  io.save_checkpoint(small, "fail-2");  // queued: the first waits for the gate
  open.set_value();
  // Each failure is reported once, oldest first.
  EXPECT_NE(error_of([&] { io.teardown(); }).find("fail-1"), std::string::npos);
  EXPECT_NE(error_of([&] { io.teardown(); }).find("fail-2"), std::string::npos);
  EXPECT_EQ(error_of([&] { io.teardown(); }), "<no exception>");
  io.save_checkpoint(small, "fail-3");
  // A later save reports it (once the worker has failed), and is then not queued itself.
  std::string reported;
  size_t queued = 0;
  for (int i = 0; i < 2000 && reported.find("fail-3") == std::string::npos; ++i) {
    reported = error_of([&] { io.save_checkpoint(small, "ok"); });
    if (reported == "<no exception>") {
      ++queued;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_NE(reported.find("fail-3"), std::string::npos) << reported;
  io.teardown();
  EXPECT_EQ(inner->saved(), std::vector<std::string>(queued, "ok"));
}

TEST(CheckpointIO, AsyncRealFileErrorAndLoadWaits) {
  TempDir dir;
  AsyncCheckpointIO io;
  io.save_checkpoint(checkpoint(torch::zeros({4}), 0), dir.file("missing/a.ckpt"));
  try {
    io.load_checkpoint(dir.file("b.ckpt"));
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("missing/a.ckpt")), std::string::npos) << e.what();
  }
  io.save_checkpoint(checkpoint(torch::arange(1 << 20), 7), dir.file("b.ckpt"));
  EXPECT_EQ(at(io.load_checkpoint(dir.file("b.ckpt")), "step").toInt(), 7);  // waited for the save
}

TEST(CheckpointIO, AsyncDestructorFinishesPendingSaves) {
  TempDir dir;
  {
    AsyncCheckpointIO io;
    for (int i = 0; i < 3; ++i) io.save_checkpoint(checkpoint(torch::arange(1 << 18), i), dir.file("a.ckpt"));
    io.save_checkpoint(checkpoint(torch::zeros({1}), 0), dir.file("missing/x.ckpt"));  // reported on stderr, not thrown
  }
  EXPECT_EQ(at(lightning::torch_load(dir.file("a.ckpt")), "step").toInt(), 2);
}

}  // namespace
