#pragma once
/// `torch_save` / `torch_load`: the file format of Python's `torch.save`, from C++.
///
/// Objects are `c10::IValue` trees: None, bool, int, double, string, tensors, lists, tuples and
/// dicts (string or int keys, insertion order kept). Files are the zip archive `torch.save`
/// writes (`<name>/data.pkl` + one record per storage), so Python's `torch.load` reads what
/// we write, and we read what Python writes (plain dicts, `OrderedDict`, nested lists and
/// tuples, every dtype, views and shared storages, Lightning's `.ckpt`). docs/checkpoints.md
/// lists what maps to what.
///
/// Loaded dicts are `c10::impl::GenericDict` keyed by `StringType` (all keys strings),
/// `IntType` (all ints) or `AnyType` (mixed): look up with `dict.at(c10::IValue("epoch"))`.
/// Lists are `GenericList(AnyType)`, tuples `c10::ivalue::Tuple`, Python sets lists, Python
/// bytes strings. Tensors that shared a storage in the file share memory.
#include <ATen/core/ivalue.h>

#include <cstddef>
#include <string>
#include <vector>

namespace lightning {

/// Serialises `obj` to the bytes of a `torch.save` file.
std::vector<char> torch_save_to_bytes(const c10::IValue& obj);

/// Writes `obj` to `path` atomically: a temporary file `.<name>.tmp.<pid>.<n>` in the same
/// folder, fsynced, then renamed over `path` (and the folder fsynced). A crash never leaves a
/// partial file under `path`; on error (unwritable folder, disk full) the temporary file is
/// removed, `path` keeps its old contents and CheckpointError names the path and the cause.
/// Tensor data goes from the tensors' memory straight into the file (no copy on the CPU).
void torch_save(const c10::IValue& obj, const std::string& path);

/// Reads a file written by `torch_save` or by Python's `torch.save`. Tensors are loaded on
/// the CPU. Throws CheckpointError naming the path and the problem (missing, truncated,
/// corrupted, not a checkpoint); never crashes on bad input.
c10::IValue torch_load(const std::string& path);

/// The same from memory; `name` is used in error messages.
c10::IValue torch_load_from_bytes(const void* data, size_t size, const std::string& name);

}  // namespace lightning
