#include "loggers/writer_thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace lightning::detail {

namespace {

std::chrono::steady_clock::duration to_clock(std::chrono::duration<double> d) {
  // Clamp to a year: "never" for our purposes, and far from overflowing time_point arithmetic.
  const std::chrono::duration<double> year = std::chrono::hours(24 * 365);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::min(d, year));
}

}  // namespace

WriterThread::WriterThread(std::function<void()> drain, std::chrono::duration<double> period,
                           std::chrono::duration<double> min_interval)
    : drain_(std::move(drain)),
      period_(to_clock(period)),
      min_interval_(to_clock(min_interval)),
      last_drain_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] { loop(); });
}

WriterThread::~WriterThread() {
  try {
    stop();
  } catch (...) {
    // Destructors must not throw; `finalize` reports write errors.
  }
}

void WriterThread::wake() {
  // Asked already (the common case when rows come every step): no lock. A stale read only
  // delays the drain to the next wake or the flush timer.
  if (pending_wake_.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(mutex_);
  if (pending_wake_ || stopped_) return;
  pending_wake_ = true;
  lock.unlock();
  wake_cv_.notify_one();
}

void WriterThread::sync() {
  std::unique_lock lock(mutex_);
  if (stopped_) return;
  const uint64_t target = ++requested_;
  wake_cv_.notify_one();
  done_cv_.wait(lock, [&] { return completed_ >= target; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void WriterThread::stop() {
  {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
  }
  std::exception_ptr error;
  try {
    sync();
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stopped_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (error) std::rethrow_exception(error);
}

void WriterThread::loop() {
  using Clock = std::chrono::steady_clock;
#ifdef __linux__
  // Background work: when cores are scarce, the training thread goes first (Linux nice is per thread).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  ::pthread_setname_np(::pthread_self(), "logger-writer");  // as top, perf and gdb show it
#endif
  std::unique_lock lock(mutex_);
  while (true) {
    if (stopping_) return;
    const auto now = Clock::now();
    const bool synced = completed_ < requested_;
    const bool woken = pending_wake_ && now >= last_drain_ + min_interval_;
    const bool timer = now >= last_drain_ + period_;  // flush_secs
    if (!synced && !woken && !timer) {
      auto deadline = last_drain_ + period_;
      if (pending_wake_) deadline = std::min(deadline, last_drain_ + min_interval_);
      wake_cv_.wait_until(lock, deadline);
      continue;
    }
    const uint64_t target = requested_;
    pending_wake_ = false;
    lock.unlock();
    try {
      drain_();
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      lock.unlock();
    }
    lock.lock();
    last_drain_ = Clock::now();
    completed_ = target;
    done_cv_.notify_all();
  }
}

}  // namespace lightning::detail
