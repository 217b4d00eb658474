// The Trainer's checkpoint connector: what `Trainer::dump_checkpoint` writes and how a run restores
// it (the file format itself is src/checkpoint/).
// Every top-level key is written and read here (docs/checkpoints.md lists the schema).
#include "lightning/checkpoint/checkpoint.h"

#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/checkpoint/serialization.h"
#include "lightning/loggers/logger.h"
#include "lightning/loops/evaluation_loop.h"
#include "lightning/loops/fit_loop.h"
#include "lightning/loops/prediction_loop.h"
#include "lightning/optim/lr_scheduler.h"
#include "lightning/plugins/checkpoint_io.h"
#include "lightning/precision/precision.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"
#include "lightning/utilities/rank_zero.h"
#include "lightning/version.h"
#include "trainer/resolved_options.h"
#include "utilities/fs.h"
#include "utilities/type_name.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <mutex>

namespace lightning {
namespace {

Dict hyperparameters_dict(const Hyperparameters& hparams) {
  Dict d = new_dict();
  for (const auto& [name, value] : hparams) d.insert(name, value);
  return d;
}

/// LibTorch's generator states (not in Lightning's checkpoints; needed for an exact resume).
Dict rng_states() {
  Dict d = new_dict();
  auto cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    d.insert("torch", cpu.get_state());
  }
  auto cuda = new_list();
  if (torch::cuda::is_available())
    for (size_t i = 0; i < torch::cuda::device_count(); ++i)
      cuda.push_back(
          at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i))).get_state());
  d.insert("torch.cuda", cuda);
  return d;
}

/// A generator state must be the byte tensor of the size the generator writes.
void check_generator_state(const c10::IValue& v, const at::Generator& gen, const std::string& key) {
  if (!v.isTensor())
    throw CheckpointError(fmt::format("'{}' is a {}, expected a uint8 tensor (a generator state)", key, v.tagKind()));
  const auto& t = v.toTensor();
  const auto expected = gen.get_state().numel();
  if (t.scalar_type() != at::kByte || t.dim() != 1 || t.numel() != expected)
    throw CheckpointError(fmt::format("'{}' is a {} tensor of {} elements, expected a uint8 tensor of {} (a generator "
                                      "state of this LibTorch)",
                                      key, c10::toString(t.scalar_type()), t.numel(), expected));
}

void load_rng_states(const Dict& d) {
  if (auto it = d.find("torch"); it != d.end() && !it->value().isNone()) {
    auto cpu = at::detail::getDefaultCPUGenerator();
    check_generator_state(it->value(), cpu, "rng_states.torch");
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(it->value().toTensor());
  }
  if (auto it = d.find("torch.cuda"); it != d.end() && it->value().isList() && torch::cuda::is_available()) {
    const auto states = it->value().toListRef();
    for (size_t i = 0; i < std::min<size_t>(states.size(), static_cast<size_t>(torch::cuda::device_count())); ++i)
    {
      auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      check_generator_state(states[i], gen, fmt::format("rng_states.torch.cuda[{}]", i));
      gen.set_state(states[i].toTensor());
    }
  }
}

Dict dict_value(const Dict& d, const std::string& key, const std::string& path) {
  auto v = dict_at(d, key, fmt::format("checkpoint '{}'", path));
  if (!v.isGenericDict()) throw CheckpointError(fmt::format("checkpoint '{}': '{}' is not a dict", path, key));
  return v.toGenericDict();
}

/// The weights of a checkpoint: its "state_dict", or the whole file when it is a plain state
/// dict (`torch.save(model.state_dict(), path)`).
Dict weights_of(const Dict& checkpoint, const std::string& path) {
  auto it = checkpoint.find("state_dict");
  if (it != checkpoint.end()) {
    if (!it->value().isGenericDict())
      throw CheckpointError(fmt::format("checkpoint '{}': 'state_dict' is not a dict", path));
    return it->value().toGenericDict();
  }
  for (const auto& entry : checkpoint)
    if (!entry.value().isTensor())
      throw CheckpointError(fmt::format(
          "'{}' is neither a Lightning checkpoint (no 'state_dict' key) nor a state dict (the value of '{}' is not a "
          "tensor)",
          path, entry.key().isString() ? entry.key().toStringRef() : "?"));
  return checkpoint;
}

/// The highest N of the `hpc_ckpt_<N>.ckpt` files in `dir` (Lightning's SLURM requeue files), 0 if none.
int64_t last_hpc_checkpoint(const std::string& dir) {
  int64_t last = 0;
  for (const auto& name : detail::list_dir(dir))
    if (name.rfind("hpc_ckpt_", 0) == 0 && name.size() > 14 && name.substr(name.size() - 5) == ".ckpt")
      last = std::max<int64_t>(last, std::atoll(name.substr(9, name.size() - 14).c_str()));
  return last;
}

std::string hpc_checkpoint_path(const std::string& dir, int64_t n) { return fmt::format("{}/hpc_ckpt_{}.ckpt", dir, n); }

/// LibTorch's type errors read "... INTERNAL ASSERT FAILED ... Expected Int but got String": keep
/// the part a user can act on.
std::string type_problem(const c10::Error& e) {
  const std::string message = e.what_without_backtrace();
  const auto expected = message.find("Expected ");
  std::string problem = expected == std::string::npos ? message : message.substr(expected);
  return problem.substr(0, problem.find('\n'));
}

/// Runs `f`, which restores the checkpoint entry `key` of `path`: every failure other than a
/// misconfiguration becomes a CheckpointError naming the file and the entry.
template <typename F>
void restoring(const std::string& path, const std::string& key, F&& f) {
  auto error = [&](const std::string& problem) {
    return CheckpointError(fmt::format("checkpoint '{}': {}: {}; accepted: a checkpoint written by this library or "
                                       "by Lightning for the same setup",
                                       path, key, problem));
  };
  try {
    f();
  } catch (const MisconfigurationException& e) {
    throw MisconfigurationException(fmt::format("checkpoint '{}': {}: {}", path, key, e.what()));
  } catch (const CheckpointError& e) {
    throw error(e.what());
  } catch (const c10::Error& e) {
    throw error("a value has the wrong type (" + type_problem(e) + ")");
  } catch (const std::exception& e) {
    throw error(e.what());
  }
}

Dict as_checkpoint(const c10::IValue& loaded, const std::string& path) {
  if (!loaded.isGenericDict())
    throw CheckpointError(fmt::format("'{}' holds a {}, not a checkpoint dictionary", path, loaded.tagKind()));
  return loaded.toGenericDict();
}

}  // namespace

// --- LightningModule --------------------------------------------------------------------------

Dict LightningModule::read_checkpoint(const std::string& path) { return as_checkpoint(torch_load(path), path); }

Hyperparameters LightningModule::hyperparameters_of(const Dict& checkpoint) {
  Hyperparameters hparams;
  auto it = checkpoint.find("hyper_parameters");
  if (it == checkpoint.end() || !it->value().isGenericDict()) return hparams;
  for (const auto& entry : it->value().toGenericDict())
    if (entry.key().isString()) hparams.set(entry.key().toStringRef(), entry.value());
  return hparams;
}

void LightningModule::restore_from_checkpoint(const Dict& checkpoint, const std::string& path,
                                              const LoadCheckpointOptions& options) {
  on_load_checkpoint(checkpoint);
  load_module_state_dict(*this, weights_of(checkpoint, path), options.strict, fmt::format("'{}'", path));
  auto hparams = hyperparameters_of(checkpoint);
  if (!hparams.empty() && hparams_.empty()) hparams_ = std::move(hparams);
  if (options.map_location) to(*options.map_location);
}

// --- Trainer: saving ----------------------------------------------------------------------------

Dict Trainer::dump_checkpoint(bool weights_only) {
  auto& model = lightning_module();
  Dict checkpoint = new_dict();
  checkpoint.insert("epoch", current_epoch());
  checkpoint.insert("global_step", global_step());
  checkpoint.insert("pytorch-lightning_version", std::string(kLightningFormatVersion));
  checkpoint.insert("state_dict", model.state_dict());
  Dict loops = new_dict();
  loops.insert("fit_loop", fit_loop_->state_dict());
  // Lightning's predict loop counts with a plain progress (no is_last_batch).
  for (auto [name, progress] :
       {std::pair{"validate_loop", validate_loop_->batch_progress.state_dict()},
        std::pair{"test_loop", test_loop_->batch_progress.state_dict()},
        std::pair{"predict_loop", static_cast<const Progress&>(predict_loop_->batch_progress).state_dict()}}) {
    Dict loop = new_dict();
    loop.insert("state_dict", new_dict());
    loop.insert("batch_progress", progress);
    loops.insert(name, loop);
  }
  checkpoint.insert("loops", loops);
  if (!weights_only) {
    Dict callback_states = new_dict();
    for (const auto& cb : callbacks_) {
      auto state = cb->state_dict();
      if (!state.empty()) callback_states.insert(cb->state_key(), state);
    }
    checkpoint.insert("callbacks", callback_states);
    auto optimizer_states = new_list();
    for (const auto& optimizer : model.optimizers())
      optimizer_states.push_back(
          optimizer_state_dict(*optimizer, {optim::initial_lrs_of(*optimizer), /*stepped=*/global_step() > 0}));
    checkpoint.insert("optimizer_states", optimizer_states);
    auto scheduler_states = new_list();
    for (const auto& config : model.lr_scheduler_configs_) scheduler_states.push_back(config.scheduler->state_dict());
    checkpoint.insert("lr_schedulers", scheduler_states);
    if (auto key = precision_plugin().state_key(); !key.empty()) checkpoint.insert(key, precision_plugin().state_dict());
  }
  if (!model.hparams().empty()) {
    checkpoint.insert("hparams_name", std::string("kwargs"));
    checkpoint.insert("hyper_parameters", hyperparameters_dict(model.hparams()));
  }
  if (datamodule_) {
    auto state = datamodule_->state_dict();
    if (!state.empty()) checkpoint.insert(detail::class_name(typeid(*datamodule_)), state);
  }
  // Ours, after Lightning's keys: the generators (an exact resume needs them) and our version.
  if (!weights_only) checkpoint.insert("rng_states", rng_states());
  checkpoint.insert("lightning_cpp_version", std::string(kVersion));
  if (!weights_only)
    call_callbacks("on_save_checkpoint", [&](Callback& c) { c.on_save_checkpoint(*this, model, checkpoint); });
  call_module("on_save_checkpoint", [&](LightningModule& m) { m.on_save_checkpoint(checkpoint); });
  return checkpoint;
}

void Trainer::save_checkpoint(const std::string& filepath, bool weights_only) {
  if (!model_)
    throw MisconfigurationException(
        "save_checkpoint: the Trainer has no LightningModule yet; accepted: a call during or after fit/validate/test");
  auto checkpoint = dump_checkpoint(weights_only);
  if (is_global_zero()) detail::make_dirs(detail::parent_dir(filepath));
  strategy_->save_checkpoint(checkpoint, filepath);  // written by the global-zero process
  strategy_->barrier("Trainer.save_checkpoint");
}

void Trainer::save_hpc_checkpoint() {
  const auto& dir = options_->default_root_dir;
  const auto path = hpc_checkpoint_path(dir, last_hpc_checkpoint(dir) + 1);
  save_checkpoint(path);
  checkpoint_io().teardown();  // an asynchronous save must be on disk before the process exits
  std::cerr << fmt::format("Saved the HPC checkpoint '{}'; `fit` resumes from it when run again.", path) << std::endl;
}

// --- Trainer: restoring -------------------------------------------------------------------------

std::optional<std::string> Trainer::resolve_ckpt_path(const std::optional<std::string>& requested) const {
  const bool fitting = state_.fn == TrainerFn::Fitting;
  auto hpc_checkpoint = [&]() -> std::optional<std::string> {
    const int64_t last = last_hpc_checkpoint(options_->default_root_dir);
    if (last == 0) return std::nullopt;
    return hpc_checkpoint_path(options_->default_root_dir, last);
  };
  if (!requested) {
    if (fitting) {
      if (auto hpc = hpc_checkpoint()) {
        rank_zero_info(fmt::format("Resuming from the HPC checkpoint '{}' left by a preempted run.", *hpc));
        return hpc;
      }
    }
    return std::nullopt;
  }
  const std::string& p = *requested;
  if (p == "hpc") {
    auto hpc = hpc_checkpoint();
    if (!hpc)
      throw MisconfigurationException(fmt::format(
          "ckpt_path=\"hpc\" is set but no hpc_ckpt_N.ckpt exists in '{}'; accepted: a path, \"last\", \"best\" or "
          "\"hpc\" when such a checkpoint exists",
          options_->default_root_dir));
    return hpc;
  }
  if (p == "best") {
    auto* mc = checkpoint_callback();
    if (!mc)
      throw MisconfigurationException(fmt::format(
          "`.{}(ckpt_path=\"best\")`: ckpt_path=\"best\" is set but ModelCheckpoint is not configured; accepted: a "
          "path, \"best\" with a ModelCheckpoint callback, or a model passed to the call",
          to_string(*state_.fn)));
    if (mc->best_model_path.empty()) {
      if (fitting)
        throw MisconfigurationException(
            "ckpt_path=\"best\" is not supported to resume training; accepted: a path or \"last\"");
      if (fast_dev_run() > 0)
        throw MisconfigurationException(fmt::format(
            "You cannot execute `.{0}(ckpt_path=\"best\")` with `fast_dev_run`, which saves no checkpoint; "
            "accepted: an exact checkpoint path `.{0}(ckpt_path=...)`, or pass the model",
            to_string(*state_.fn)));
      throw MisconfigurationException(
          "ckpt_path=\"best\" is set but ModelCheckpoint.best_model_path is empty (no checkpoint was saved yet); "
          "accepted: \"best\" after fit saved one, or a path");
    }
    return mc->best_model_path;
  }
  if (p == "last") {
    // The newest of the ModelCheckpoint callbacks' last checkpoints and any HPC checkpoint.
    std::vector<std::string> candidates;
    for (auto* mc : checkpoint_callbacks()) {
      if (!mc->last_model_path.empty()) candidates.push_back(mc->last_model_path);
      for (const auto& found : mc->find_last_checkpoints(*const_cast<Trainer*>(this))) candidates.push_back(found);
    }
    if (auto hpc = hpc_checkpoint()) candidates.push_back(*hpc);
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [](const std::string& c) { return !detail::path_exists(c); }),
                     candidates.end());
    if (candidates.empty()) {
      rank_zero_info("ckpt_path=\"last\" is set, but there is no last checkpoint available. No checkpoint will be "
                     "loaded.");
      return std::nullopt;
    }
    return *std::max_element(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return detail::mtime_ns(a) < detail::mtime_ns(b);
    });
  }
  if (!detail::path_exists(p))
    throw CheckpointError(fmt::format(
        "ckpt_path='{}': no such file; accepted: an existing checkpoint file, \"last\", \"best\" or \"hpc\"", p));
  return p;
}

void Trainer::restore_modules_and_callbacks(const Dict& checkpoint, const std::string& path) {
  auto& model = *model_;
  if (datamodule_) {
    auto it = checkpoint.find(detail::class_name(typeid(*datamodule_)));
    if (it != checkpoint.end() && it->value().isGenericDict()) datamodule_->load_state_dict(it->value().toGenericDict());
  }
  call_module("on_load_checkpoint", [&](LightningModule& m) { m.on_load_checkpoint(checkpoint); });
  load_module_state_dict(model, weights_of(checkpoint, path), true, fmt::format("checkpoint '{}'", path));
  if (state_.fn != TrainerFn::Fitting) return;
  call_callbacks("on_load_checkpoint", [&](Callback& c) { c.on_load_checkpoint(*this, model, checkpoint); });
  auto it = checkpoint.find("callbacks");
  if (it == checkpoint.end()) return;
  if (!it->value().isGenericDict())
    throw CheckpointError(
        fmt::format("checkpoint '{}': 'callbacks' is a {}, expected a dict of callback states", path, it->value().tagKind()));
  const auto states = it->value().toGenericDict();
  for (const auto& entry : states)
    if (!entry.key().isString())
      throw CheckpointError(fmt::format("checkpoint '{}': 'callbacks' has a key of type {}; expected the str state "
                                        "keys of callbacks (Callback::state_key())",
                                        path, entry.key().tagKind()));
  for (const auto& cb : callbacks_) {
    const std::string key = cb->state_key();
    std::optional<c10::IValue> state;
    if (auto found = states.find(key); found != states.end()) state = found->value();
    if (!state) continue;
    restoring(path, fmt::format("callbacks['{}']", key), [&] {
      if (!state->isGenericDict()) throw CheckpointError(fmt::format("a {}, expected a dict", state->tagKind()));
      cb->load_state_dict(state->toGenericDict());
    });
  }
}

void Trainer::restore_training_state(const Dict& checkpoint, const std::string& path) {
  if (!checkpoint.contains("optimizer_states"))
    throw MisconfigurationException(fmt::format(
        "Trying to restore optimizer state but checkpoint '{}' contains only the model (was it saved with "
        "save_weights_only=true, or is it a plain state dict?); accepted: a full checkpoint to resume fit, or load "
        "the weights with load_from_checkpoint and call fit without ckpt_path",
        path));
  const auto fit_loop_state = dict_value(dict_value(checkpoint, "loops", path), "fit_loop", path);
  restoring(path, "loops.fit_loop", [&] { fit_loop_->load_state_dict(fit_loop_state); });
  const auto optimizer_states = checkpoint.at("optimizer_states");
  if (!optimizer_states.isList())
    throw CheckpointError(fmt::format("checkpoint '{}': 'optimizer_states' is a {}, expected a list of optimizer "
                                      "state dicts",
                                      path, optimizer_states.tagKind()));
  const auto states = optimizer_states.toListRef();
  const auto& optimizers = model_->optimizers();
  if (states.size() != optimizers.size())
    throw MisconfigurationException(fmt::format(
        "checkpoint '{}' holds {} optimizer states but configure_optimizers returned {}; accepted: a checkpoint of the "
        "same training setup",
        path, states.size(), optimizers.size()));
  for (size_t i = 0; i < states.size(); ++i)
    restoring(path, fmt::format("optimizer_states[{}]", i), [&] {
      if (!states[i].isGenericDict()) throw CheckpointError(fmt::format("a {}, expected a dict", states[i].tagKind()));
      load_optimizer_state_dict(*optimizers[i], states[i].toGenericDict());
    });
  // As Lightning: the states in config order, as many as both sides have.
  if (auto it = checkpoint.find("lr_schedulers"); it != checkpoint.end()) {
    if (!it->value().isList())
      throw CheckpointError(fmt::format("checkpoint '{}': 'lr_schedulers' is a {}, expected a list of scheduler "
                                        "state dicts",
                                        path, it->value().tagKind()));
    const auto scheduler_states = it->value().toListRef();
    const auto& configs = model_->lr_scheduler_configs_;
    for (size_t i = 0; i < std::min(scheduler_states.size(), configs.size()); ++i)
      restoring(path, fmt::format("lr_schedulers[{}]", i), [&] {
        if (!scheduler_states[i].isGenericDict())
          throw CheckpointError(fmt::format("a {}, expected a dict", scheduler_states[i].tagKind()));
        configs[i].scheduler->load_state_dict(scheduler_states[i].toGenericDict());
      });
  }
  if (auto key = precision_plugin().state_key(); !key.empty())
    for (const std::string& name : {key, std::string("native_amp_scaling_state")})  // 2.x's, else 1.x's
      if (auto it = checkpoint.find(name); it != checkpoint.end()) {
        restoring(path, "'" + name + "'", [&] {
          if (!it->value().isGenericDict())
            throw CheckpointError(fmt::format("a {}, expected a dict", it->value().tagKind()));
          precision_plugin().load_state_dict(it->value().toGenericDict());
        });
        break;
      }
  if (auto it = checkpoint.find("rng_states"); it != checkpoint.end())
    restoring(path, "rng_states", [&] {
      if (!it->value().isGenericDict()) throw CheckpointError(fmt::format("a {}, expected a dict", it->value().tagKind()));
      load_rng_states(it->value().toGenericDict());
    });
}

}  // namespace lightning
