#pragma once
/// The checkpoint dictionary: Lightning's top-level keys, built and read in one place
/// (`src/trainer/checkpoint_connector.cpp`); the state dicts of modules and optimizers.
///
/// A checkpoint is a `c10::impl::GenericDict` with string keys; `torch.load` in Python returns
/// it as a dict with `epoch`, `global_step`, `pytorch-lightning_version`, `state_dict`,
/// `optimizer_states`, `lr_schedulers`, `loops`, `callbacks`, `hyper_parameters`, and what
/// `on_save_checkpoint` hooks add. See docs/checkpoints.md for the whole schema.
#include "lightning/checkpoint/dict.h"

#include <torch/optim/optimizer.h>
#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace lightning {

/// The module's parameters and buffers by `named_parameters()`/`named_buffers()` names
/// (detached; shared with the module unless `clone`), in a `new_ordered_dict`.
Dict module_state_dict(const torch::nn::Module& module, bool clone = false);

/// Copies `state` into the module's parameters and buffers. With `strict`, missing keys,
/// unexpected keys and shape mismatches are listed together in one MisconfigurationException;
/// without it, matching keys are loaded and the rest ignored (shape mismatches still throw).
void load_module_state_dict(torch::nn::Module& module, const Dict& state, bool strict = true,
                            const std::string& source = "state_dict");

/// PyTorch's layout of an optimizer's state: `{"state": {index: {...}}, "param_groups":
/// [{..., "params": [indices]}]}` for SGD, Adam, AdamW, RMSprop and Adagrad (the keys
/// `torch.optim` uses, so Python's `optimizer.load_state_dict` accepts it); other optimizers
/// store LibTorch's own archive as bytes under "libtorch_archive".
/// What PyTorch's optimizer state has that LibTorch's lacks.
struct OptimizerStateExtras {
  /// Each group's `initial_lr` (set by an LR scheduler); none without a scheduler.
  std::vector<double> initial_lrs;
  /// The optimizer has stepped: SGD without momentum then keeps `{'momentum_buffer': None}`
  /// per parameter, as PyTorch does.
  bool stepped = false;
};
Dict optimizer_state_dict(const torch::optim::Optimizer& optimizer, const OptimizerStateExtras& extras = {});
/// The inverse of `optimizer_state_dict`; throws MisconfigurationException when the layout
/// does not match the optimizer (another optimizer type, other parameter counts or shapes).
void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const Dict& state);

}  // namespace lightning
