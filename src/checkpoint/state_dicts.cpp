// Module and optimizer state dicts in PyTorch's layout.
#include "lightning/checkpoint/checkpoint.h"

#include "lightning/utilities/errors.h"
#include "lightning/utilities/torch_compat.h"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/archive.h>

#include <fmt/format.h>

#include <functional>
#include <set>
#include <sstream>

namespace lightning {

// --- module ---------------------------------------------------------------------------------

Dict module_state_dict(const torch::nn::Module& module, bool clone) {
  Dict out = new_ordered_dict();
  auto add = [&](const auto& items) {
    for (const auto& item : items) {
      auto t = item.value().detach();
      out.insert(item.key(), clone ? t.clone() : t);
    }
  };
  add(module.named_parameters());
  add(module.named_buffers());
  return out;
}

void load_module_state_dict(torch::nn::Module& module, const Dict& state, bool strict, const std::string& source) {
  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::set<std::string> known;
  auto match = [&](const auto& items) {
    for (const auto& item : items) {
      known.insert(item.key());
      auto it = state.find(item.key());
      if (it == state.end() || !it->value().isTensor()) {
        missing.push_back(item.key());
        continue;
      }
      const auto& value = it->value().toTensor();
      if (value.sizes() != item.value().sizes()) {
        mismatched.push_back(fmt::format("{} (checkpoint [{}], model [{}])", item.key(), fmt::join(value.sizes(), ", "),
                                         fmt::join(item.value().sizes(), ", ")));
        continue;
      }
      copies.emplace_back(item.value(), value);
    }
  };
  match(module.named_parameters());
  match(module.named_buffers());
  for (const auto& entry : state)
    if (!entry.key().isString() || !known.count(entry.key().toStringRef()))
      unexpected.push_back(entry.key().isString() ? entry.key().toStringRef() : "<non-string key>");
  if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::string message = fmt::format("Error(s) in loading the state_dict from {} (strict={}):", source, strict);
    if (strict && !missing.empty()) message += fmt::format("\n  missing keys: {}", fmt::join(missing, ", "));
    if (strict && !unexpected.empty()) message += fmt::format("\n  unexpected keys: {}", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) message += fmt::format("\n  size mismatch: {}", fmt::join(mismatched, ", "));
    message += "\naccepted: a state_dict with exactly the model's named_parameters() and named_buffers() keys and shapes"
               " (or strict=false to load the keys that match)";
    throw MisconfigurationException(message);
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : copies) target.copy_(value);
}

// --- optimizers -------------------------------------------------------------------------------

namespace {

/// How one optimizer type maps to PyTorch's names: its param-group options and per-parameter
/// state, both directions.
struct OptimizerLayout {
  std::function<void(const torch::optim::OptimizerOptions&, Dict&)> write_group;
  std::function<void(torch::optim::OptimizerOptions&, const Dict&)> read_group;
  std::function<void(const torch::optim::OptimizerParamState&, Dict&)> write_state;
  std::function<std::unique_ptr<torch::optim::OptimizerParamState>(const Dict&)> read_state;
  /// State tensors have their parameter's shape (all but LBFGS, whose state is flat).
  bool per_parameter_shapes = true;
  /// What PyTorch keeps for a parameter that stepped when LibTorch keeps nothing (SGD without
  /// momentum: `{'momentum_buffer': None}`); unset: nothing.
  std::function<void(Dict&)> write_stateless = nullptr;
};

double number(const Dict& d, const char* key) {
  auto it = d.find(key);
  if (it == d.end()) throw MisconfigurationException(fmt::format("optimizer state: param group has no '{}'", key));
  const auto& v = it->value();
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  if (v.isBool()) return v.toBool() ? 1.0 : 0.0;
  if (v.isTensor()) return v.toTensor().item<double>();
  throw MisconfigurationException(fmt::format("optimizer state: '{}' is a {}, expected a number", key, v.tagKind()));
}

bool flag(const Dict& d, const char* key, bool fallback = false) {
  auto it = d.find(key);
  return it == d.end() || it->value().isNone() ? fallback : number(d, key) != 0.0;
}

torch::Tensor tensor_or_none(const Dict& d, const char* key) {
  auto it = d.find(key);
  return it == d.end() || !it->value().isTensor() ? torch::Tensor() : it->value().toTensor();
}

void put_tensor(Dict& d, const char* key, const torch::Tensor& t) {
  if (t.defined()) d.insert(key, t.detach());
}

/// Python stores `step` as a float tensor (torch >= 1.12); older files hold an int.
void put_step(Dict& d, int64_t step) { d.insert("step", torch::tensor(static_cast<float>(step))); }
int64_t step_of(const Dict& d) { return d.contains("step") ? static_cast<int64_t>(number(d, "step")) : 0; }

/// A hyperparameter whose PyTorch default is the int 0 (`weight_decay=0`, ...) is written as
/// that int when zero, as Python's `state_dict()` has it; otherwise as a float.
void put_default_zero(Dict& g, const char* key, double value) {
  if (value == 0.0)
    g.insert(key, int64_t{0});
  else
    g.insert(key, value);
}

void common_group_keys(Dict& g) {
  g.insert("maximize", false);
  g.insert("foreach", c10::IValue());
  g.insert("differentiable", false);
}

template <typename Options>
Options& as(torch::optim::OptimizerOptions& o) {
  return static_cast<Options&>(o);
}
template <typename Options>
const Options& as(const torch::optim::OptimizerOptions& o) {
  return static_cast<const Options&>(o);
}

/// Adam (`is_adam`) and AdamW differ in their param-group keys (AdamW: `weight_decay=1e-2`).
template <typename AdamLike, typename Options, typename State, bool is_adam>
OptimizerLayout adam_layout() {
  return {
      [](const torch::optim::OptimizerOptions& base, Dict& g) {
        const auto& o = as<Options>(base);
        g.insert("lr", o.lr());
        g.insert("betas", c10::ivalue::Tuple::create({std::get<0>(o.betas()), std::get<1>(o.betas())}));
        g.insert("eps", o.eps());
        // torch 1.13's keys and order: Adam's, then AdamW's, which has fewer.
        if (is_adam) {
          put_default_zero(g, "weight_decay", o.weight_decay());
          g.insert("amsgrad", o.amsgrad());
          g.insert("maximize", false);
          g.insert("foreach", c10::IValue());
          g.insert("capturable", false);
          g.insert("differentiable", false);
          g.insert("fused", false);
        } else {
          g.insert("weight_decay", o.weight_decay());
          g.insert("amsgrad", o.amsgrad());
          g.insert("foreach", c10::IValue());
          g.insert("maximize", false);
          g.insert("capturable", false);
        }
      },
      [](torch::optim::OptimizerOptions& base, const Dict& g) {
        auto& o = as<Options>(base);
        o.lr(number(g, "lr")).eps(number(g, "eps")).weight_decay(number(g, "weight_decay"));
        o.amsgrad(flag(g, "amsgrad"));
        auto betas = g.at("betas");
        auto elems = betas.isTuple() ? betas.toTupleRef().elements().vec() : betas.toListRef().vec();
        if (elems.size() != 2) throw MisconfigurationException("optimizer state: 'betas' must hold two numbers");
        o.betas({elems[0].toDouble(), elems[1].toDouble()});
      },
      [](const torch::optim::OptimizerParamState& base, Dict& s) {
        const auto& st = static_cast<const State&>(base);
        put_step(s, st.step());
        put_tensor(s, "exp_avg", st.exp_avg());
        put_tensor(s, "exp_avg_sq", st.exp_avg_sq());
        put_tensor(s, "max_exp_avg_sq", st.max_exp_avg_sq());
      },
      [](const Dict& s) {
        auto st = std::make_unique<State>();
        st->step(step_of(s));
        st->exp_avg(tensor_or_none(s, "exp_avg"));
        st->exp_avg_sq(tensor_or_none(s, "exp_avg_sq"));
        st->max_exp_avg_sq(tensor_or_none(s, "max_exp_avg_sq"));
        return std::unique_ptr<torch::optim::OptimizerParamState>(std::move(st));
      }};
}

const OptimizerLayout& lbfgs_layout();

const OptimizerLayout* layout_of(const torch::optim::Optimizer& optimizer) {
  using namespace torch::optim;
  static const OptimizerLayout sgd{
      [](const OptimizerOptions& base, Dict& g) {
        const auto& o = as<SGDOptions>(base);
        g.insert("lr", o.lr());
        put_default_zero(g, "momentum", o.momentum());
        put_default_zero(g, "dampening", o.dampening());
        put_default_zero(g, "weight_decay", o.weight_decay());
        g.insert("nesterov", o.nesterov());
        common_group_keys(g);
      },
      [](OptimizerOptions& base, const Dict& g) {
        as<SGDOptions>(base)
            .lr(number(g, "lr"))
            .momentum(number(g, "momentum"))
            .dampening(number(g, "dampening"))
            .weight_decay(number(g, "weight_decay"))
            .nesterov(flag(g, "nesterov"));
      },
      [](const OptimizerParamState& base, Dict& s) {
        put_tensor(s, "momentum_buffer", static_cast<const SGDParamState&>(base).momentum_buffer());
      },
      [](const Dict& s) -> std::unique_ptr<OptimizerParamState> {
        auto buffer = tensor_or_none(s, "momentum_buffer");
        if (!buffer.defined()) return nullptr;  // Python keeps `None` when momentum is 0
        auto st = std::make_unique<SGDParamState>();
        st->momentum_buffer(buffer);
        return st;
      },
      /*per_parameter_shapes=*/true,
      [](Dict& s) { s.insert("momentum_buffer", c10::IValue()); }};
  static const OptimizerLayout adam = adam_layout<Adam, AdamOptions, AdamParamState, true>();
  static const OptimizerLayout adamw = adam_layout<AdamW, AdamWOptions, AdamWParamState, false>();
  static const OptimizerLayout rmsprop{
      [](const OptimizerOptions& base, Dict& g) {
        const auto& o = as<RMSpropOptions>(base);
        g.insert("lr", o.lr());
        put_default_zero(g, "momentum", o.momentum());
        g.insert("alpha", o.alpha());
        g.insert("eps", o.eps());
        g.insert("centered", o.centered());
        put_default_zero(g, "weight_decay", o.weight_decay());
        common_group_keys(g);
      },
      [](OptimizerOptions& base, const Dict& g) {
        as<RMSpropOptions>(base)
            .lr(number(g, "lr"))
            .momentum(number(g, "momentum"))
            .alpha(number(g, "alpha"))
            .eps(number(g, "eps"))
            .centered(flag(g, "centered"))
            .weight_decay(number(g, "weight_decay"));
      },
      [](const OptimizerParamState& base, Dict& s) {
        const auto& st = static_cast<const RMSpropParamState&>(base);
        put_step(s, st.step());
        put_tensor(s, "square_avg", st.square_avg());
        put_tensor(s, "momentum_buffer", st.momentum_buffer());
        put_tensor(s, "grad_avg", st.grad_avg());
      },
      [](const Dict& s) -> std::unique_ptr<OptimizerParamState> {
        auto st = std::make_unique<RMSpropParamState>();
        st->step(step_of(s));
        st->square_avg(tensor_or_none(s, "square_avg"));
        st->momentum_buffer(tensor_or_none(s, "momentum_buffer"));
        st->grad_avg(tensor_or_none(s, "grad_avg"));
        return st;
      }};
  static const OptimizerLayout adagrad{
      [](const OptimizerOptions& base, Dict& g) {
        const auto& o = as<AdagradOptions>(base);
        g.insert("lr", o.lr());
        put_default_zero(g, "lr_decay", o.lr_decay());
        put_default_zero(g, "weight_decay", o.weight_decay());
        put_default_zero(g, "initial_accumulator_value", o.initial_accumulator_value());
        g.insert("eps", o.eps());
        common_group_keys(g);
      },
      [](OptimizerOptions& base, const Dict& g) {
        as<AdagradOptions>(base)
            .lr(number(g, "lr"))
            .lr_decay(number(g, "lr_decay"))
            .weight_decay(number(g, "weight_decay"))
            .initial_accumulator_value(number(g, "initial_accumulator_value"))
            .eps(number(g, "eps"));
      },
      [](const OptimizerParamState& base, Dict& s) {
        const auto& st = static_cast<const AdagradParamState&>(base);
        put_step(s, st.step());
        put_tensor(s, "sum", st.sum());
      },
      [](const Dict& s) -> std::unique_ptr<OptimizerParamState> {
        auto st = std::make_unique<AdagradParamState>();
        st->step(step_of(s));
        st->sum(tensor_or_none(s, "sum"));
        return st;
      }};
  if (dynamic_cast<const SGD*>(&optimizer)) return &sgd;
  if (dynamic_cast<const AdamW*>(&optimizer)) return &adamw;
  if (dynamic_cast<const Adam*>(&optimizer)) return &adam;
  if (dynamic_cast<const RMSprop*>(&optimizer)) return &rmsprop;
  if (dynamic_cast<const Adagrad*>(&optimizer)) return &adagrad;
  if (dynamic_cast<const LBFGS*>(&optimizer)) return &lbfgs_layout();
  return nullptr;
}

c10::impl::GenericList tensor_list(const std::deque<torch::Tensor>& tensors) {
  auto list = new_list();
  for (const auto& t : tensors) list.push_back(t.defined() ? c10::IValue(t) : c10::IValue());  // Python: None
  return list;
}

std::deque<torch::Tensor> tensors_of(const Dict& d, const char* key) {
  std::deque<torch::Tensor> out;
  auto it = d.find(key);
  if (it != d.end() && it->value().isList())
    for (const auto& v : it->value().toListRef()) out.push_back(v.isTensor() ? v.toTensor() : torch::Tensor());
  return out;
}

/// LBFGS keeps its whole state on the first parameter, in Python and in LibTorch alike.
const OptimizerLayout& lbfgs_layout() {
  using namespace torch::optim;
  static const OptimizerLayout layout{
      [](const OptimizerOptions& base, Dict& g) {
        const auto& o = as<LBFGSOptions>(base);
        g.insert("lr", o.lr());
        g.insert("max_iter", o.max_iter());
        g.insert("max_eval", o.max_eval() ? c10::IValue(*o.max_eval()) : c10::IValue());
        g.insert("tolerance_grad", o.tolerance_grad());
        g.insert("tolerance_change", o.tolerance_change());
        g.insert("history_size", o.history_size());
        g.insert("line_search_fn", o.line_search_fn() ? c10::IValue(*o.line_search_fn()) : c10::IValue());
      },
      [](OptimizerOptions& base, const Dict& g) {
        auto& o = as<LBFGSOptions>(base);
        o.lr(number(g, "lr")).max_iter(static_cast<int64_t>(number(g, "max_iter")));
        o.tolerance_grad(number(g, "tolerance_grad")).tolerance_change(number(g, "tolerance_change"));
        o.history_size(static_cast<int64_t>(number(g, "history_size")));
        auto max_eval = g.at("max_eval");
        o.max_eval(max_eval.isNone() ? c10::optional<int64_t>() : c10::optional<int64_t>(max_eval.toInt()));
        auto search = g.at("line_search_fn");
        o.line_search_fn(search.isNone() ? c10::optional<std::string>() : c10::optional<std::string>(search.toStringRef()));
      },
      [](const OptimizerParamState& base, Dict& s) {
        const auto& st = static_cast<const LBFGSParamState&>(base);
        s.insert("func_evals", st.func_evals());
        s.insert("n_iter", st.n_iter());
        s.insert("t", st.t());
        s.insert("prev_loss", st.prev_loss());
        put_tensor(s, "d", st.d());
        put_tensor(s, "H_diag", st.H_diag());
        put_tensor(s, "prev_flat_grad", st.prev_flat_grad());
        s.insert("old_dirs", tensor_list(st.old_dirs()));
        s.insert("old_stps", tensor_list(st.old_stps()));
        s.insert("ro", tensor_list(st.ro()));
        if (st.al()) s.insert("al", tensor_list({st.al()->begin(), st.al()->end()}));
        else s.insert("al", c10::IValue());
      },
      [](const Dict& s) -> std::unique_ptr<OptimizerParamState> {
        auto st = std::make_unique<LBFGSParamState>();
        st->func_evals(static_cast<int64_t>(number(s, "func_evals"))).n_iter(static_cast<int64_t>(number(s, "n_iter")));
        st->t(number(s, "t")).prev_loss(number(s, "prev_loss"));
        st->d(tensor_or_none(s, "d")).H_diag(tensor_or_none(s, "H_diag")).prev_flat_grad(tensor_or_none(s, "prev_flat_grad"));
        st->old_dirs(tensors_of(s, "old_dirs")).old_stps(tensors_of(s, "old_stps")).ro(tensors_of(s, "ro"));
        if (auto it = s.find("al"); it != s.end() && it->value().isList()) {
          auto al = tensors_of(s, "al");
          st->al(std::vector<torch::Tensor>(al.begin(), al.end()));
        }
        return st;
      },
      /*per_parameter_shapes=*/false};
  return layout;
}

Dict as_dict(const c10::IValue& v, const std::string& what) {
  if (!v.isGenericDict()) throw MisconfigurationException(fmt::format("optimizer state: {} is not a dict", what));
  return v.toGenericDict();
}

}  // namespace

Dict optimizer_state_dict(const torch::optim::Optimizer& optimizer, const OptimizerStateExtras& extras) {
  Dict out = new_dict();
  const auto* layout = layout_of(optimizer);
  if (!layout) {
    // No PyTorch counterpart we know of: keep LibTorch's archive, as bytes.
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    std::ostringstream stream;
    archive.save_to(stream);
    auto bytes = stream.str();
    out.insert("libtorch_archive",
               torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8).clone());
    return out;
  }
  Dict state(c10::IntType::get(), c10::AnyType::get());
  auto groups = new_list();
  int64_t index = 0;
  const auto& param_groups = optimizer.param_groups();
  for (size_t i = 0; i < param_groups.size(); ++i) {
    const auto& group = param_groups[i];
    Dict g = new_dict();
    layout->write_group(group.options(), g);
    if (i < extras.initial_lrs.size()) g.insert("initial_lr", extras.initial_lrs[i]);  // a scheduler's, as PyTorch
    c10::List<int64_t> params;
    for (const auto& p : group.params()) {
      auto it = optimizer.state().find(compat::optimizer_state_key(p));
      if (it != optimizer.state().end() && it->second) {
        Dict s = new_dict();
        layout->write_state(*it->second, s);
        state.insert(index, s);
      } else if (extras.stepped && layout->write_stateless) {
        Dict s = new_dict();
        layout->write_stateless(s);
        state.insert(index, s);
      }
      params.push_back(index++);
    }
    g.insert("params", params);
    groups.push_back(g);
  }
  out.insert("state", state);
  out.insert("param_groups", groups);
  return out;
}

void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const Dict& saved) {
  const auto* layout = layout_of(optimizer);
  if (!layout) {
    auto it = saved.find("libtorch_archive");
    if (it == saved.end() || !it->value().isTensor())
      throw MisconfigurationException(
          "optimizer state: this optimizer has no PyTorch layout and the checkpoint holds no 'libtorch_archive'; "
          "accepted: a checkpoint saved with the same optimizer type");
    auto bytes = it->value().toTensor().contiguous();
    std::string data(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
    std::istringstream stream(data);
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    optimizer.load(archive);
    return;
  }
  if (!saved.contains("param_groups") || !saved.contains("state"))
    throw MisconfigurationException(
        "optimizer state: expected PyTorch's layout {'state': ..., 'param_groups': [...]}; accepted: a checkpoint "
        "saved with the same optimizer type");
  auto groups = saved.at("param_groups").toListRef();
  auto state = as_dict(saved.at("state"), "'state'");
  auto& own = optimizer.param_groups();
  if (groups.size() != own.size())
    throw MisconfigurationException(fmt::format(
        "optimizer state: the checkpoint has {} param groups, the optimizer {}; accepted: the same optimizer setup",
        groups.size(), own.size()));
  // Check everything before changing anything.
  int64_t index = 0;
  for (size_t i = 0; i < own.size(); ++i) {
    auto g = as_dict(groups[i], "a param group");
    const auto params = g.at("params").toListRef();
    if (params.size() != own[i].params().size())
      throw MisconfigurationException(fmt::format(
          "optimizer state: param group {} has {} parameters in the checkpoint and {} in the optimizer; accepted: "
          "the same model and optimizer setup",
          i, params.size(), own[i].params().size()));
    for (size_t j = 0; j < params.size(); ++j, ++index) {
      auto it = state.find(params[j]);
      if (it == state.end()) continue;
      auto s = as_dict(it->value(), "a parameter state");
      for (const auto& entry : s) {
        if (!layout->per_parameter_shapes || !entry.value().isTensor() || entry.key().toStringRef() == "step") continue;
        const auto& t = entry.value().toTensor();
        if (t.sizes() != own[i].params()[j].sizes())
          throw MisconfigurationException(fmt::format(
              "optimizer state: '{}' of parameter {} has shape [{}], the parameter [{}]; accepted: the same model",
              entry.key().toStringRef(), index, fmt::join(t.sizes(), ", "), fmt::join(own[i].params()[j].sizes(), ", ")));
      }
    }
  }
  auto& live = optimizer.state();
  for (size_t i = 0; i < own.size(); ++i) {
    auto g = groups[i].toGenericDict();
    layout->read_group(own[i].options(), g);
    const auto params = g.at("params").toListRef();
    for (size_t j = 0; j < params.size(); ++j) {
      const auto key = compat::optimizer_state_key(own[i].params()[j]);
      auto it = state.find(params[j]);
      std::unique_ptr<torch::optim::OptimizerParamState> st;
      if (it != state.end()) {
        // State tensors follow their parameter's device and dtype, as torch.optim does.
        const auto& param = own[i].params()[j];
        Dict converted = new_dict();
        for (const auto& entry : it->value().toGenericDict()) {
          const auto& v = entry.value();
          if (v.isTensor() && entry.key().toStringRef() != "step") {
            converted.insert(entry.key(), v.toTensor().to(param.options()));
          } else if (v.isList()) {
            auto list = new_list();
            for (const auto& item : v.toListRef())
              list.push_back(item.isTensor() ? c10::IValue(item.toTensor().to(param.options())) : item);
            converted.insert(entry.key(), list);
          } else {
            converted.insert(entry.key(), v);
          }
        }
        st = layout->read_state(converted);
      }
      if (st)
        live[key] = std::move(st);
      else
        live.erase(key);
    }
  }
}

}  // namespace lightning
