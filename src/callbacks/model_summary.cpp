#include "lightning/callbacks/model_summary.h"

#include "lightning/trainer/trainer.h"
#include "lightning/utilities/errors.h"

// LibTorch 1.13's instancenorm module header misses this include of its own.
#include <torch/nn/functional/instancenorm.h>
#include <torch/nn/modules.h>
#include <torch/utils.h>

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace lightning {

namespace detail {

/// Python's `f"{n:,d}"`.
static std::string group_thousands(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out.append(digits, 0, first);
  for (size_t i = first; i < digits.size(); i += 3) {
    out.push_back(',');
    out.append(digits, i, 3);
  }
  return out;
}

std::string format_param_count(int64_t number) {
  TORCH_CHECK(number >= 0, "Invalid parameter count: ", number);
  static constexpr const char* labels[] = {"", "K", "M", "B", "T"};
  const int num_digits = number > 0 ? static_cast<int>(std::floor(std::log10(static_cast<double>(number)))) + 1 : 1;
  int num_groups = (num_digits + 2) / 3;
  num_groups = std::min(num_groups, 5);
  const int index = num_groups - 1;
  const double scaled = static_cast<double>(number) * std::pow(10.0, -3.0 * index);
  if (index < 1) return group_thousands(number);
  if (scaled >= 100) return fmt::format("{} {}", group_thousands(static_cast<int64_t>(scaled)), labels[index]);
  return fmt::format("{:.1f} {}", scaled, labels[index]);
}

std::string short_type_name(const std::string& name) {
  // Cut at the last "::" outside template brackets and parentheses ("(anonymous namespace)::X").
  int depth = 0;
  size_t cut = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '<' || c == '(') ++depth;
    else if (c == '>' || c == ')') --depth;
    else if (depth == 0 && c == ':' && i + 1 < name.size() && name[i + 1] == ':') cut = i + 2;
  }
  std::string result = name.substr(cut);
  // `struct NetImpl : torch::nn::Module` + TORCH_MODULE(Net): users know the type as `Net`.
  constexpr std::string_view impl = "Impl";
  if (result.size() > impl.size() && result.ends_with(impl)) result.resize(result.size() - impl.size());
  return result;
}

std::string format_sizes(c10::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes.begin(), sizes.end(), ", "));
}

}  // namespace detail

namespace {

using SizeMap = std::unordered_map<const torch::nn::Module*, std::pair<std::string, std::string>>;

std::optional<torch::Tensor> try_forward(torch::nn::Module& module, const torch::Tensor& input, SizeMap& sizes);

/// Runs a Sequential child by child, recording every child's sizes; nullopt when a child
/// cannot be run on what the previous one returned.
std::optional<torch::Tensor> run_sequential(torch::nn::SequentialImpl& seq, const torch::Tensor& input,
                                            SizeMap& sizes) {
  torch::Tensor x = input;
  for (auto& any : seq) {
    auto child = any.ptr();
    torch::Tensor y;
    try {
      y = any.forward(x);  // LibTorch cannot nest a Sequential directly in a Sequential
    } catch (...) {
      return std::nullopt;
    }
    sizes[child.get()] = {detail::format_sizes(x.sizes()), detail::format_sizes(y.sizes())};
    x = y;
  }
  return x;
}

template <typename Impl>
bool call_as(torch::nn::Module& module, const torch::Tensor& input, torch::Tensor& output) {
  auto* impl = dynamic_cast<Impl*>(&module);
  if (impl == nullptr) return false;
  output = impl->forward(input);
  return true;
}

/// Calls `module` on `input` when its type is one LibTorch's `forward` we know (LibTorch has
/// no forward hooks and no virtual forward); records its sizes. nullopt: unknown or failed.
std::optional<torch::Tensor> try_forward(torch::nn::Module& module, const torch::Tensor& input, SizeMap& sizes) {
  namespace nn = torch::nn;
  torch::Tensor out;
  try {
    if (auto* seq = dynamic_cast<nn::SequentialImpl*>(&module)) {
      auto r = run_sequential(*seq, input, sizes);
      if (!r) return std::nullopt;
      out = *r;
    } else {
      const bool known =
          call_as<nn::LinearImpl>(module, input, out) || call_as<nn::Conv1dImpl>(module, input, out) ||
          call_as<nn::Conv2dImpl>(module, input, out) || call_as<nn::Conv3dImpl>(module, input, out) ||
          call_as<nn::ConvTranspose1dImpl>(module, input, out) ||
          call_as<nn::ConvTranspose2dImpl>(module, input, out) ||
          call_as<nn::ConvTranspose3dImpl>(module, input, out) || call_as<nn::ReLUImpl>(module, input, out) ||
          call_as<nn::ReLU6Impl>(module, input, out) || call_as<nn::LeakyReLUImpl>(module, input, out) ||
          call_as<nn::ELUImpl>(module, input, out) || call_as<nn::SELUImpl>(module, input, out) ||
          call_as<nn::GELUImpl>(module, input, out) || call_as<nn::SiLUImpl>(module, input, out) ||
          call_as<nn::MishImpl>(module, input, out) || call_as<nn::SigmoidImpl>(module, input, out) ||
          call_as<nn::TanhImpl>(module, input, out) || call_as<nn::SoftplusImpl>(module, input, out) ||
          call_as<nn::SoftmaxImpl>(module, input, out) || call_as<nn::LogSoftmaxImpl>(module, input, out) ||
          call_as<nn::DropoutImpl>(module, input, out) || call_as<nn::Dropout2dImpl>(module, input, out) ||
          call_as<nn::Dropout3dImpl>(module, input, out) || call_as<nn::BatchNorm1dImpl>(module, input, out) ||
          call_as<nn::BatchNorm2dImpl>(module, input, out) || call_as<nn::BatchNorm3dImpl>(module, input, out) ||
          call_as<nn::InstanceNorm1dImpl>(module, input, out) ||
          call_as<nn::InstanceNorm2dImpl>(module, input, out) ||
          call_as<nn::InstanceNorm3dImpl>(module, input, out) || call_as<nn::LayerNormImpl>(module, input, out) ||
          call_as<nn::GroupNormImpl>(module, input, out) || call_as<nn::FlattenImpl>(module, input, out) ||
          call_as<nn::UnflattenImpl>(module, input, out) || call_as<nn::IdentityImpl>(module, input, out) ||
          call_as<nn::MaxPool1dImpl>(module, input, out) || call_as<nn::MaxPool2dImpl>(module, input, out) ||
          call_as<nn::MaxPool3dImpl>(module, input, out) || call_as<nn::AvgPool1dImpl>(module, input, out) ||
          call_as<nn::AvgPool2dImpl>(module, input, out) || call_as<nn::AvgPool3dImpl>(module, input, out) ||
          call_as<nn::AdaptiveAvgPool1dImpl>(module, input, out) ||
          call_as<nn::AdaptiveAvgPool2dImpl>(module, input, out) ||
          call_as<nn::AdaptiveAvgPool3dImpl>(module, input, out) ||
          call_as<nn::AdaptiveMaxPool2dImpl>(module, input, out) || call_as<nn::EmbeddingImpl>(module, input, out);
      if (!known) return std::nullopt;
    }
  } catch (...) {
    return std::nullopt;
  }
  sizes[&module] = {detail::format_sizes(input.sizes()), detail::format_sizes(out.sizes())};
  return out;
}

bool same_output(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined() || a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  try {
    return torch::equal(a, b) || (a.is_floating_point() && torch::allclose(a, b));
  } catch (...) {
    return false;
  }
}

/// Puts every module back in the training mode it had (train() recurses, so parents first).
class ModeRestorer {
 public:
  explicit ModeRestorer(torch::nn::Module& root) {
    for (const auto& m : root.modules(/*include_self=*/false)) saved_.emplace_back(m, m->is_training());
    root_ = &root;
    root_training_ = root.is_training();
  }
  ~ModeRestorer() {
    root_->train(root_training_);
    for (auto& [m, training] : saved_) m->train(training);
  }

 private:
  torch::nn::Module* root_;
  bool root_training_;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> saved_;
};

/// In/out sizes of the rows. `root_forward` runs the summarized module's own forward (nullopt
/// when unknown). The root's direct children are tried as a chain on the example input; the
/// sizes are kept only up to the child whose output equals the root's output, which proves the
/// chain is what `forward` computes (LibTorch has no forward hooks to observe the real calls).
SizeMap compute_sizes(torch::nn::Module& root, const torch::Tensor& example,
                      const std::function<std::optional<torch::Tensor>(const torch::Tensor&, SizeMap&)>& root_forward) {
  torch::NoGradGuard no_grad;
  ModeRestorer restore(root);
  root.eval();

  torch::Tensor input = example;
  auto params = root.parameters();
  if (!params.empty() && input.device() != params.front().device()) input = input.to(params.front().device());

  SizeMap exact;  // sizes observed by running the root's own forward (exact when the root is a known type)
  std::optional<torch::Tensor> expected;
  try {
    expected = root_forward(input, exact);
  } catch (...) {  // includes the default forward's "not overridden" marker
    expected = std::nullopt;
  }
  if (!expected) return {};
  if (!exact.empty()) return exact;  // the root is a Sequential or a known layer: no guessing needed

  SizeMap chain, accepted;
  torch::Tensor x = input;
  for (const auto& child : root.children()) {
    auto y = try_forward(*child, x, chain);
    if (!y) break;
    x = *y;
    if (same_output(x, *expected)) accepted = chain;
  }
  return accepted;
}

ModelSummaryData summarize_impl(
    torch::nn::Module& module, int max_depth, const torch::Tensor& example,
    const std::function<std::optional<torch::Tensor>(const torch::Tensor&, SizeMap&)>& root_forward) {
  if (max_depth < -1) {
    throw MisconfigurationException(fmt::format("`max_depth` can be -1, 0 or > 0, got {}.", max_depth));
  }
  ModelSummaryData data;

  // Totals count every parameter once (shared parameters are not double counted).
  {
    std::unordered_set<const c10::TensorImpl*> seen;
    for (const auto& p : module.parameters(/*recurse=*/true)) {
      if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
      data.total_parameters += p.numel();
      if (p.requires_grad()) data.trainable_parameters += p.numel();
    }
  }
  data.model_size_mb = static_cast<double>(data.total_parameters) * 4.0 / 1e6;

  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> rows;
  if (max_depth == 1) {
    for (const auto& item : module.named_children()) rows.emplace_back(item.key(), item.value());
  } else if (max_depth != 0) {
    for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
      const auto depth = std::count(item.key().begin(), item.key().end(), '.');
      if (max_depth > 0 && depth >= max_depth) continue;
      rows.emplace_back(item.key(), item.value());
    }
  }

  SizeMap sizes;
  if (example.defined()) {
    data.has_sizes = true;
    sizes = compute_sizes(module, example, root_forward);
  }

  for (const auto& [name, child] : rows) {
    LayerSummary layer;
    layer.name = name;
    layer.type = detail::short_type_name(child->name());
    std::unordered_set<const c10::TensorImpl*> seen;
    for (const auto& p : child->parameters(/*recurse=*/true)) {
      if (seen.insert(p.unsafeGetTensorImpl()).second) layer.num_parameters += p.numel();
    }
    if (auto it = sizes.find(child.get()); it != sizes.end()) {
      layer.in_size = it->second.first;
      layer.out_size = it->second.second;
    }
    data.layers.push_back(std::move(layer));
  }
  return data;
}

}  // namespace

std::string ModelSummaryData::to_string() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> cols;
  cols.push_back({" ", {}});
  cols.push_back({"Name", {}});
  cols.push_back({"Type", {}});
  cols.push_back({"Params", {}});
  if (has_sizes) {
    cols.push_back({"In sizes", {}});
    cols.push_back({"Out sizes", {}});
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    cols[0].second.push_back(std::to_string(i));
    cols[1].second.push_back(l.name);
    cols[2].second.push_back(l.type);
    cols[3].second.push_back(detail::format_param_count(l.num_parameters));
    if (has_sizes) {
      cols[4].second.push_back(l.in_size);
      cols[5].second.push_back(l.out_size);
    }
  }
  // Lightning's `_format_summary_table`, including its width arithmetic (3 per column, plus 3).
  std::vector<size_t> widths;
  size_t total_width = 3 * (cols.size() + 1);
  for (const auto& [header, values] : cols) {
    size_t w = header.size();
    for (const auto& v : values) w = std::max(w, v.size());
    widths.push_back(w);
    total_width += w;
  }
  auto row = [&](auto&& cell) {
    std::string line;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (c > 0) line += " | ";
      line += fmt::format("{:<{}}", cell(c), widths[c]);
    }
    return line;
  };
  const std::string divider(total_width, '-');
  std::string s = row([&](size_t c) { return cols[c].first; });
  s += "\n" + divider;
  for (size_t i = 0; i < layers.size(); ++i) s += "\n" + row([&](size_t c) { return cols[c].second[i]; });
  s += "\n" + divider;
  s += fmt::format("\n{:<10}Trainable params", detail::format_param_count(trainable_parameters));
  s += fmt::format("\n{:<10}Non-trainable params", detail::format_param_count(non_trainable_parameters()));
  s += fmt::format("\n{:<10}Total params", detail::format_param_count(total_parameters));
  // Python's f"{size:,.3f}": the integer part grouped by thousands.
  const std::string fixed = fmt::format("{:.3f}", model_size_mb);
  const size_t dot = fixed.find('.');
  const std::string grouped = detail::group_thousands(std::stoll(fixed.substr(0, dot))) + fixed.substr(dot);
  s += fmt::format("\n{:<10}Total estimated model params size (MB)", grouped);
  return s;
}

ModelSummaryData summarize_model(torch::nn::Module& module, int max_depth, const torch::Tensor& example_input) {
  return summarize_impl(module, max_depth, example_input,
                        [&](const torch::Tensor& x, SizeMap& sizes) -> std::optional<torch::Tensor> {
                          SizeMap own;
                          auto out = try_forward(module, x, own);
                          if (!out) return std::nullopt;
                          own.erase(&module);  // the root is not a row
                          sizes = std::move(own);
                          return out;
                        });
}

ModelSummaryData summarize_model(LightningModule& module, int max_depth) {
  return summarize_impl(module, max_depth, module.example_input_array,
                        [&](const torch::Tensor& x, SizeMap&) -> std::optional<torch::Tensor> {
                          return module.forward(x);
                        });
}

std::string summarize(torch::nn::Module& module, int max_depth, const torch::Tensor& example_input) {
  return summarize_model(module, max_depth, example_input).to_string();
}

std::string summarize(LightningModule& module, int max_depth) { return summarize_model(module, max_depth).to_string(); }

ModelSummary::ModelSummary(int max_depth, std::ostream* out) : max_depth_(max_depth), out_(out) {
  if (max_depth < -1) {
    throw MisconfigurationException(
        fmt::format("ModelSummary(max_depth={}): `max_depth` can be -1, 0 or > 0.", max_depth));
  }
}

void ModelSummary::on_fit_start(Trainer& trainer, LightningModule& module) {
  if (max_depth_ == 0 || !trainer.is_global_zero()) return;
  const std::string table = summarize(module, max_depth_);
  std::ostream& os = out_ != nullptr ? *out_ : std::cout;
  os << "\n" << table << std::endl;
}

}  // namespace lightning
