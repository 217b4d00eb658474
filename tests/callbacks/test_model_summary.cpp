// ModelSummary: parameter counts, human-readable numbers, depth, in/out sizes, the exact table.
#include "lightning/callbacks/model_summary.h"
#include "lightning/core/module.h"
#include "lightning/utilities/errors.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <sstream>

namespace L = lightning;

namespace {

/// Linear(32, 64) -> ReLU -> Linear(64, 10) in a Sequential called `net`: 2112 + 650 params.
struct SeqModel : L::LightningModule {
  torch::nn::Sequential net{nullptr};
  SeqModel() {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(32, 64), torch::nn::ReLU(),
                                                       torch::nn::Linear(64, 10)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return net->forward(x); }
};

/// Two direct children used in a way that is not a chain (a residual sum).
struct ResidualModel : L::LightningModule {
  torch::nn::Linear a{nullptr}, b{nullptr};
  ResidualModel() {
    a = register_module("a", torch::nn::Linear(8, 8));
    b = register_module("b", torch::nn::Linear(8, 8));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return a(x) + b(x); }
};

/// Two Sequential blocks called one after the other, plus a module forward never calls.
struct EncoderDecoder : L::LightningModule {
  torch::nn::Sequential encoder{nullptr}, decoder{nullptr};
  torch::nn::LayerNorm unused{nullptr};
  EncoderDecoder() {
    encoder = register_module("encoder", torch::nn::Sequential(torch::nn::Linear(16, 4), torch::nn::Tanh()));
    decoder = register_module("decoder", torch::nn::Sequential(torch::nn::Linear(4, 16)));
    unused = register_module("unused", torch::nn::LayerNorm(torch::nn::LayerNormOptions({16})));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return decoder->forward(encoder->forward(x)); }
};

/// No forward override: sizes must fall back to "?".
struct NoForward : L::LightningModule {
  torch::nn::Linear fc{nullptr};
  NoForward() { fc = register_module("fc", torch::nn::Linear(4, 2)); }
};

std::vector<std::string> names(const L::ModelSummaryData& s) {
  std::vector<std::string> out;
  for (const auto& l : s.layers) out.push_back(l.name);
  return out;
}

}  // namespace

TEST(ModelSummaryFormat, HumanReadableCounts) {
  using L::detail::format_param_count;
  EXPECT_EQ(format_param_count(0), "0");
  EXPECT_EQ(format_param_count(999), "999");
  EXPECT_EQ(format_param_count(1000), "1.0 K");
  EXPECT_EQ(format_param_count(1200), "1.2 K");
  EXPECT_EQ(format_param_count(2762), "2.8 K");
  EXPECT_EQ(format_param_count(50890), "50.9 K");
  EXPECT_EQ(format_param_count(123456), "123 K");
  EXPECT_EQ(format_param_count(3400000), "3.4 M");
  EXPECT_EQ(format_param_count(2000000), "2.0 M");
  EXPECT_EQ(format_param_count(1100000000), "1.1 B");
  EXPECT_EQ(format_param_count(400000000000000LL), "400 T");
  EXPECT_EQ(format_param_count(5000000000000000LL), "5,000 T");
}

TEST(ModelSummaryFormat, TypeNamesAndSizes) {
  using L::detail::short_type_name;
  EXPECT_EQ(short_type_name("torch::nn::Linear"), "Linear");
  EXPECT_EQ(short_type_name("torch::nn::Sequential"), "Sequential");
  EXPECT_EQ(short_type_name("my::ns::NetImpl"), "Net");
  EXPECT_EQ(short_type_name("(anonymous namespace)::Block"), "Block");
  EXPECT_EQ(short_type_name("ns::Wrapper<ns::Inner>"), "Wrapper<ns::Inner>");
  EXPECT_EQ(short_type_name("Plain"), "Plain");
  EXPECT_EQ(L::detail::format_sizes({1, 784}), "[1, 784]");
  EXPECT_EQ(L::detail::format_sizes({}), "[]");
}

TEST(ModelSummary, ParameterCounts) {
  SeqModel model;
  auto s = L::summarize_model(model, 1);
  EXPECT_EQ(s.total_parameters, 2112 + 650);
  EXPECT_EQ(s.trainable_parameters, 2762);
  EXPECT_EQ(s.non_trainable_parameters(), 0);
  EXPECT_DOUBLE_EQ(s.model_size_mb, 2762 * 4 / 1e6);
  ASSERT_EQ(s.layers.size(), 1u);
  EXPECT_EQ(s.layers[0].name, "net");
  EXPECT_EQ(s.layers[0].type, "Sequential");
  EXPECT_EQ(s.layers[0].num_parameters, 2762);
  EXPECT_FALSE(s.has_sizes);

  // Frozen parameters count as non-trainable.
  for (auto& p : model.net[0]->parameters()) p.set_requires_grad(false);
  s = L::summarize_model(model, 1);
  EXPECT_EQ(s.trainable_parameters, 650);
  EXPECT_EQ(s.non_trainable_parameters(), 2112);
}

TEST(ModelSummary, MaxDepth) {
  SeqModel model;
  EXPECT_EQ(names(L::summarize_model(model, 1)), (std::vector<std::string>{"net"}));
  EXPECT_EQ(names(L::summarize_model(model, 2)), (std::vector<std::string>{"net", "net.0", "net.1", "net.2"}));
  EXPECT_EQ(names(L::summarize_model(model, -1)), (std::vector<std::string>{"net", "net.0", "net.1", "net.2"}));
  EXPECT_TRUE(L::summarize_model(model, 0).layers.empty());
  EXPECT_EQ(L::summarize_model(model, 0).total_parameters, 2762);  // totals still computed

  auto deep = L::summarize_model(model, 2);
  EXPECT_EQ(deep.layers[1].type, "Linear");
  EXPECT_EQ(deep.layers[1].num_parameters, 2112);
  EXPECT_EQ(deep.layers[2].type, "ReLU");
  EXPECT_EQ(deep.layers[2].num_parameters, 0);
  EXPECT_EQ(deep.layers[3].num_parameters, 650);

  // Three levels: depth 2 stops at "outer.inner", -1 goes down to "outer.inner.0".
  torch::nn::Module nested, middle;
  auto inner = std::make_shared<torch::nn::Module>();
  inner->register_module("0", torch::nn::Linear(2, 2));
  middle.register_module("0", inner);
  nested.register_module("0", std::make_shared<torch::nn::Module>(middle));
  EXPECT_EQ(names(L::summarize_model(nested, 2)), (std::vector<std::string>{"0", "0.0"}));
  EXPECT_EQ(names(L::summarize_model(nested, -1)), (std::vector<std::string>{"0", "0.0", "0.0.0"}));
  EXPECT_EQ(names(L::summarize_model(nested, 3)), (std::vector<std::string>{"0", "0.0", "0.0.0"}));

  EXPECT_THROW(L::summarize_model(model, -2), L::MisconfigurationException);
  EXPECT_THROW(L::ModelSummary(-2), L::MisconfigurationException);
}

TEST(ModelSummary, ExactTable) {
  SeqModel model;
  const std::string expected =
      "  | Name | Type       | Params\n"
      "------------------------------------\n"
      "0 | net  | Sequential | 2.8 K \n"
      "------------------------------------\n"
      "2.8 K     Trainable params\n"
      "0         Non-trainable params\n"
      "2.8 K     Total params\n"
      "0.011     Total estimated model params size (MB)";
  EXPECT_EQ(L::summarize(model, 1), expected);
}

TEST(ModelSummary, InOutSizesOfSequential) {
  SeqModel model;
  model.example_input_array = torch::zeros({1, 32});
  model.train();
  auto s = L::summarize_model(model, 2);
  ASSERT_TRUE(s.has_sizes);
  ASSERT_EQ(s.layers.size(), 4u);
  EXPECT_EQ(s.layers[0].in_size, "[1, 32]");
  EXPECT_EQ(s.layers[0].out_size, "[1, 10]");
  EXPECT_EQ(s.layers[1].in_size, "[1, 32]");
  EXPECT_EQ(s.layers[1].out_size, "[1, 64]");
  EXPECT_EQ(s.layers[2].in_size, "[1, 64]");
  EXPECT_EQ(s.layers[2].out_size, "[1, 64]");
  EXPECT_EQ(s.layers[3].in_size, "[1, 64]");
  EXPECT_EQ(s.layers[3].out_size, "[1, 10]");
  // The summary ran in eval mode and put the training flags back.
  EXPECT_TRUE(model.is_training());
  EXPECT_TRUE(model.net->is_training());

  const std::string expected =
      "  | Name | Type       | Params | In sizes | Out sizes\n"
      "-----------------------------------------------------------\n"
      "0 | net  | Sequential | 2.8 K  | [1, 32]  | [1, 10]  \n"
      "-----------------------------------------------------------\n"
      "2.8 K     Trainable params\n"
      "0         Non-trainable params\n"
      "2.8 K     Total params\n"
      "0.011     Total estimated model params size (MB)";
  EXPECT_EQ(L::summarize(model, 1), expected);
}

TEST(ModelSummary, ChainOfSequentialsAndUnusedModule) {
  EncoderDecoder model;
  model.example_input_array = torch::randn({3, 16});
  auto s = L::summarize_model(model, -1);
  ASSERT_EQ(names(s), (std::vector<std::string>{"encoder", "encoder.0", "encoder.1", "decoder", "decoder.0",
                                                "unused"}));
  EXPECT_EQ(s.layers[0].in_size, "[3, 16]");
  EXPECT_EQ(s.layers[0].out_size, "[3, 4]");
  EXPECT_EQ(s.layers[2].out_size, "[3, 4]");
  EXPECT_EQ(s.layers[3].in_size, "[3, 4]");
  EXPECT_EQ(s.layers[3].out_size, "[3, 16]");
  EXPECT_EQ(s.layers[4].in_size, "[3, 4]");
  EXPECT_EQ(s.layers[5].in_size, "?");  // never called by forward
  EXPECT_EQ(s.layers[5].out_size, "?");
}

TEST(ModelSummary, UnknownSizesAreQuestionMarks) {
  // The children are not a chain: a(x) + b(x) cannot be observed without forward hooks.
  ResidualModel residual;
  residual.example_input_array = torch::randn({2, 8});
  auto s = L::summarize_model(residual, 1);
  ASSERT_EQ(s.layers.size(), 2u);
  for (const auto& l : s.layers) {
    EXPECT_EQ(l.in_size, "?");
    EXPECT_EQ(l.out_size, "?");
  }
  EXPECT_NE(L::summarize(residual, 1).find("| ?        | ?        "), std::string::npos);

  // forward not overridden: no sizes, no exception.
  NoForward plain;
  plain.example_input_array = torch::randn({1, 4});
  auto p = L::summarize_model(plain, 1);
  EXPECT_TRUE(p.has_sizes);
  EXPECT_EQ(p.layers.at(0).in_size, "?");
}

TEST(ModelSummary, PlainModuleWithExampleInput) {
  torch::nn::Sequential seq(torch::nn::Linear(5, 3), torch::nn::Sigmoid());
  auto s = L::summarize_model(*seq, 1, torch::zeros({4, 5}));
  ASSERT_EQ(s.layers.size(), 2u);
  EXPECT_EQ(s.layers[0].name, "0");
  EXPECT_EQ(s.layers[0].in_size, "[4, 5]");
  EXPECT_EQ(s.layers[1].out_size, "[4, 3]");
  EXPECT_EQ(s.total_parameters, 18);
}

TEST(ModelSummary, CallbackPrintsOnFitStartOnlyWhenEnabled) {
  // Without a Trainer only the constructor and accessors can be checked here; the Trainer's
  // integration tests drive on_fit_start.
  EXPECT_EQ(L::ModelSummary().max_depth(), 1);
  EXPECT_EQ(L::ModelSummary(-1).max_depth(), -1);
  EXPECT_EQ(L::ModelSummary(0).max_depth(), 0);
}
