#include "lightning/plugins/layer_sync.h"

#include "lightning/strategies/strategy.h"
#include "lightning/utilities/errors.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/modules/batchnorm.h>

#include <fmt/format.h>

namespace lightning {
namespace nn {
namespace {

/// The shape that broadcasts a per-channel [C] tensor over an [N, C, ...] input.
std::vector<int64_t> channel_shape(const torch::Tensor& input) {
  std::vector<int64_t> shape(static_cast<size_t>(input.dim()), 1);
  shape[1] = input.size(1);
  return shape;
}

std::vector<int64_t> non_channel_dims(const torch::Tensor& input) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < input.dim(); ++d) dims.push_back(d);
  return dims;
}

// PyTorch's SyncBatchNorm function: statistics over every process's batch (each contributes its
// mean, biased variance and count, combined with the counts), and in backward the two per-channel
// sums that the input gradient needs, summed over the processes. The weight and bias gradients
// stay local: DDP averages them as it does every other parameter's.
struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                               torch::Tensor running_var, double eps, double momentum, int64_t strategy_address) {
    auto& strategy = *reinterpret_cast<strategies::Strategy*>(strategy_address);
    const int64_t channels = input.size(1);
    const auto dims = non_channel_dims(input);
    auto [local_var, local_mean] = torch::var_mean(input, dims, /*unbiased=*/false);
    const double local_count = static_cast<double>(input.numel() / channels);
    auto gathered = strategy.all_gather(
        torch::cat({local_mean, local_var, torch::full({1}, local_count, local_mean.options())}));
    gathered = gathered.reshape({-1, 2 * channels + 1});
    auto means = gathered.slice(1, 0, channels);
    auto vars = gathered.slice(1, channels, 2 * channels);
    auto counts = gathered.slice(1, 2 * channels, 2 * channels + 1);
    const auto total = counts.sum();
    auto mean = (means * counts).sum(0) / total;
    auto var = ((vars + (means - mean).pow(2)) * counts).sum(0) / total;
    auto invstd = (var + eps).rsqrt();
    if (running_mean.defined()) {
      torch::NoGradGuard no_grad;
      const double n = total.item<double>();
      running_mean.mul_(1 - momentum).add_(mean * momentum);
      running_var.mul_(1 - momentum).add_(var * (momentum * n / std::max(n - 1, 1.0)));
    }
    const auto shape = channel_shape(input);
    auto out = (input - mean.view(shape)) * invstd.view(shape);
    if (weight.defined()) out = out * weight.view(shape) + bias.view(shape);
    ctx->save_for_backward({input, weight, mean, invstd, total});
    ctx->saved_data["strategy"] = strategy_address;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &input = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3], &total = saved[4];
    auto& strategy = *reinterpret_cast<strategies::Strategy*>(ctx->saved_data["strategy"].toInt());
    const auto& dy = grads[0];
    const auto shape = channel_shape(input);
    const auto dims = non_channel_dims(input);
    auto xmu = input - mean.view(shape);
    auto sum_dy = dy.sum(dims);
    auto sum_dy_xmu = (dy * xmu).sum(dims);
    torch::Tensor grad_weight, grad_bias;
    if (weight.defined()) {
      grad_weight = sum_dy_xmu * invstd;
      grad_bias = sum_dy;
    }
    const int64_t channels = input.size(1);
    auto sums = strategy.reduce(torch::cat({sum_dy, sum_dy_xmu}), "sum");
    auto mean_dy = sums.slice(0, 0, channels) / total;
    auto mean_dy_xmu = sums.slice(0, channels, 2 * channels) / total;
    auto scale = weight.defined() ? invstd * weight : invstd;
    auto grad_input =
        (dy - mean_dy.view(shape) - xmu * (invstd * invstd * mean_dy_xmu).view(shape)) * scale.view(shape);
    return {grad_input, grad_weight, grad_bias, {}, {}, {}, {}, {}};
  }
};

}  // namespace

SyncBatchNormImpl::SyncBatchNormImpl(const torch::nn::BatchNormOptions& options_) : options(options_) { reset(); }

void SyncBatchNormImpl::reset() {
  // BatchNorm's parameters and buffers, under BatchNorm's names.
  const auto n = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({n}));
    bias = register_parameter("bias", torch::zeros({n}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({n}));
    running_var = register_buffer("running_var", torch::ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
}

torch::Tensor SyncBatchNormImpl::forward(const torch::Tensor& input) {
  if (input.dim() < 2 || input.size(1) != options.num_features())
    throw MisconfigurationException(fmt::format(
        "SyncBatchNorm({}) got an input of shape [{}]; accepted: [N, {}, ...] (at least two dimensions)",
        options.num_features(), fmt::join(input.sizes(), ", "), options.num_features()));
  double momentum = 0.0;
  if (is_training() && options.track_running_stats()) {
    num_batches_tracked += 1;
    momentum = options.momentum() ? *options.momentum() : 1.0 / num_batches_tracked.item<double>();
  }
  const bool use_batch_stats = is_training() || !options.track_running_stats();
  if (use_batch_stats && strategy_ && strategy_->world_size() > 1)
    return SyncBatchNormFunction::apply(input, weight, bias, running_mean, running_var, options.eps(), momentum,
                                        reinterpret_cast<int64_t>(strategy_));
  return torch::batch_norm(input, weight, bias, running_mean, running_var, use_batch_stats, momentum, options.eps(),
                           /*cudnn_enabled=*/true);
}

void SyncBatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "lightning::nn::SyncBatchNorm(" << options.num_features() << ", eps=" << options.eps()
         << ", affine=" << options.affine() << ", track_running_stats=" << options.track_running_stats() << ")";
}

}  // namespace nn

namespace plugins {

void TorchSyncBatchNorm::apply(torch::nn::Module& module, strategies::Strategy& strategy) {
  for (const auto& item : module.named_modules("", /*include_self=*/true)) {
    auto* m = item.value().get();
    if (dynamic_cast<torch::nn::BatchNorm1dImpl*>(m) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(m) ||
        dynamic_cast<torch::nn::BatchNorm3dImpl*>(m))
      throw MisconfigurationException(fmt::format(
          "sync_batchnorm=true: the module's '{}' is a {}, which C++ cannot swap for a synchronised one (the module "
          "calls it through its own handle); accepted: lightning::nn::SyncBatchNorm in its place (same options, "
          "parameters and buffers), or sync_batchnorm=false",
          item.key(), m->name()));
    if (auto* sync = dynamic_cast<nn::SyncBatchNormImpl*>(m)) sync->set_process_group(&strategy);
  }
}

void TorchSyncBatchNorm::revert(torch::nn::Module& module) {
  for (const auto& m : module.modules(/*include_self=*/true))
    if (auto* sync = dynamic_cast<nn::SyncBatchNormImpl*>(m.get())) sync->set_process_group(nullptr);
}

}  // namespace plugins
}  // namespace lightning
