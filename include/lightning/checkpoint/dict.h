#pragma once
/// `Dict`: the dictionary checkpoints and every state dict in them are made of, and the few
/// functions that build and read one. Light on purpose (no torch/nn, no torch/optim): callbacks,
/// progress counters and precision plugins include it.
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>

namespace lightning {

/// A dictionary with string keys and any values: checkpoints and every state dict in them.
using Dict = c10::impl::GenericDict;

/// An empty Dict (string keys, any values).
Dict new_dict();
/// An empty Dict of string keys and tensor values, which `torch_save` writes as a
/// `collections.OrderedDict`, as Python pickles `module.state_dict()`.
Dict new_ordered_dict();
/// Whether `dict` is one of `new_ordered_dict`'s.
bool is_ordered_dict(const Dict& dict);
/// An empty list of any values.
c10::impl::GenericList new_list();

/// `dict[key]`, throwing CheckpointError naming `what` (e.g. the checkpoint path) and the key
/// when it is missing.
c10::IValue dict_at(const Dict& dict, const std::string& key, const std::string& what);

}  // namespace lightning
