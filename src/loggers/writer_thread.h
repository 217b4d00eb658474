#pragma once
// A background thread that runs a logger's `drain` function (write what is pending, flush): when
// woken, but at most once per `min_interval` (so logging every step costs one write per interval,
// not one per step), every `period`, and at once on sync/stop. Keeps file IO off the training
// thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace lightning::detail {

class WriterThread {
 public:
  /// How soon after a drain a `wake()` may start the next one.
  static constexpr std::chrono::milliseconds kMinInterval{100};

  WriterThread(std::function<void()> drain, std::chrono::duration<double> period,
               std::chrono::duration<double> min_interval = kMinInterval);
  ~WriterThread();
  WriterThread(const WriterThread&) = delete;
  WriterThread& operator=(const WriterThread&) = delete;

  /// Asks for a drain within `min_interval` of the last one; returns at once. Wakes before the
  /// drain starts cost an atomic load each; the first one also a mutex and a notify.
  void wake();
  /// Runs a drain that starts after this call and waits for it; rethrows the first error a
  /// drain raised since the last sync.
  void sync();
  /// Syncs and joins the thread; later calls do nothing.
  void stop();

 private:
  void loop();
  std::function<void()> drain_;
  std::chrono::steady_clock::duration period_, min_interval_;
  std::chrono::steady_clock::time_point last_drain_;
  std::mutex mutex_;
  std::condition_variable wake_cv_, done_cv_;
  uint64_t requested_ = 0, completed_ = 0;  // sync requests
  std::atomic<bool> pending_wake_ = false;  // written under `mutex_`
  bool stopping_ = false, stopped_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace lightning::detail
