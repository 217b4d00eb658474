#pragma once
// LibTorch's c10d (process groups, TCPStore, the DDP Reducer), and the differences between the
// versions we build against. In 1.x ProcessGroupGloo is itself a ProcessGroup; from 2.0 it is a
// Backend that a ProcessGroup dispatches to.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/version.h>

#include <chrono>
#include <string>

namespace lightning::detail::c10d_compat {

using ProcessGroupPtr = c10::intrusive_ptr<::c10d::ProcessGroup>;

/// A Gloo process group over `store` (CPU tensors; CUDA ones are staged through the host).
inline ProcessGroupPtr gloo_group(const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
                                  std::chrono::milliseconds timeout,
                                  std::shared_ptr<::gloo::transport::Device> device) {
  auto options = ::c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(std::move(device));
#if TORCH_VERSION_MAJOR < 2
  return c10::make_intrusive<::c10d::ProcessGroupGloo>(store, rank, size, options);
#else
  auto backend = c10::make_intrusive<::c10d::ProcessGroupGloo>(store, rank, size, options);
  auto group = c10::make_intrusive<::c10d::ProcessGroup>(store, rank, size);
  group->setDefaultBackend(::c10d::ProcessGroup::BackendType::GLOO);
  group->setBackend(c10::DeviceType::CPU, ::c10d::ProcessGroup::BackendType::GLOO, backend);
  group->setBackend(c10::DeviceType::CUDA, ::c10d::ProcessGroup::BackendType::GLOO, backend);
  return group;
#endif
}

#ifdef USE_C10D_NCCL
inline ProcessGroupPtr nccl_group(const c10::intrusive_ptr<::c10d::Store>& store, int rank, int size,
                                  std::chrono::milliseconds timeout) {
  auto options = ::c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
#if TORCH_VERSION_MAJOR < 2
  return c10::make_intrusive<::c10d::ProcessGroupNCCL>(store, rank, size, options);
#else
  auto backend = c10::make_intrusive<::c10d::ProcessGroupNCCL>(store, rank, size, options);
  auto group = c10::make_intrusive<::c10d::ProcessGroup>(store, rank, size);
  group->setDefaultBackend(::c10d::ProcessGroup::BackendType::NCCL);
  group->setBackend(c10::DeviceType::CUDA, ::c10d::ProcessGroup::BackendType::NCCL, backend);
  return group;
#endif
}
#endif

}  // namespace lightning::detail::c10d_compat
