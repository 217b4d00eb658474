// LR schedulers: the learning-rate (and momentum) sequences and state_dict keys of every
// scheduler against Debian's python3-torch 1.13 with the same settings.
#include "helpers/errors.h"
#include "helpers/python.h"
#include "helpers/temp_dir.h"

#include <lightning/optim/lr_scheduler.h>

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using namespace lightning;
using namespace lightning::optim;
using namespace lightning::testing;

namespace {

constexpr int kSteps = 25;

using Factory = std::function<std::shared_ptr<LRScheduler>(std::shared_ptr<Optimizer>)>;

struct Case {
  std::string name;
  Factory make;
  bool adam = false;
};

double metric(int i) { return 1.0 / (1 + i / 4) + 0.001 * (i % 4); }

std::shared_ptr<Optimizer> make_optimizer(bool adam) {
  std::vector<torch::Tensor> params{torch::zeros({1}, torch::requires_grad())};
  if (adam) return std::make_shared<torch::optim::Adam>(params, torch::optim::AdamOptions(0.1));
  return std::make_shared<torch::optim::SGD>(params, torch::optim::SGDOptions(0.1).momentum(0.9));
}

double momentum(const Optimizer& o) {
  const auto& options = o.param_groups()[0].options();
  if (auto* a = dynamic_cast<const torch::optim::AdamOptions*>(&options)) return std::get<0>(a->betas());
  return dynamic_cast<const torch::optim::SGDOptions&>(options).momentum();
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"StepLR", [](auto o) { return std::make_shared<StepLR>(o, 3, 0.5); }},
      {"MultiStepLR", [](auto o) { return std::make_shared<MultiStepLR>(o, std::vector<int64_t>{2, 5, 5, 9}, 0.3); }},
      {"ExponentialLR", [](auto o) { return std::make_shared<ExponentialLR>(o, 0.9); }},
      {"LinearLR", [](auto o) { return std::make_shared<LinearLR>(o, 0.25, 0.9, 7); }},
      {"ConstantLR", [](auto o) { return std::make_shared<ConstantLR>(o, 0.4, 4); }},
      {"LambdaLR",
       [](auto o) {
         return std::make_shared<LambdaLR>(o, [](int64_t e) { return std::pow(0.95, e) + (e % 3) * 0.1; });
       }},
      {"CosineAnnealingLR", [](auto o) { return std::make_shared<CosineAnnealingLR>(o, 7, 0.001); }},
      {"CosineAnnealingWarmRestarts", [](auto o) { return std::make_shared<CosineAnnealingWarmRestarts>(o, 4, 2, 0.01); }},
      {"OneCycleLR", [](auto o) { return std::make_shared<OneCycleLR>(o, OneCycleLROptions{.max_lr = 1.0, .total_steps = 40}); }},
      {"OneCycleLR_linear_three_phase",
       [](auto o) {
         return std::make_shared<OneCycleLR>(o, OneCycleLROptions{.max_lr = 0.5, .epochs = 4, .steps_per_epoch = 10,
                                                                  .anneal_strategy = "linear", .three_phase = true});
       }},
      {"OneCycleLR_adam", [](auto o) { return std::make_shared<OneCycleLR>(o, OneCycleLROptions{.max_lr = 0.3, .total_steps = 30}); },
       true},
      {"CyclicLR",
       [](auto o) {
         return std::make_shared<CyclicLR>(o, CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 4,
                                                              .step_size_down = 6});
       }},
      {"CyclicLR_triangular2",
       [](auto o) {
         return std::make_shared<CyclicLR>(o, CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 3,
                                                              .mode = "triangular2"});
       }},
      {"CyclicLR_exp_range",
       [](auto o) {
         return std::make_shared<CyclicLR>(o, CyclicLROptions{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 3,
                                                              .mode = "exp_range", .gamma = 0.97,
                                                              .cycle_momentum = false});
       }},
      {"PolynomialLR", [](auto o) { return std::make_shared<PolynomialLR>(o, 8, 2.0); }},
      {"SequentialLR",
       [](auto o) {
         std::vector<std::shared_ptr<LRScheduler>> children{std::make_shared<LinearLR>(o, 0.1, 1.0, 3),
                                                            std::make_shared<ExponentialLR>(o, 0.8),
                                                            std::make_shared<CosineAnnealingLR>(o, 5)};
         return std::make_shared<SequentialLR>(o, children, std::vector<int64_t>{3, 8});
       }},
      {"ReduceLROnPlateau",
       [](auto o) {
         return std::make_shared<ReduceLROnPlateau>(
             o, ReduceLROnPlateauOptions{.factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.01});
       }},
  };
  return all;
}

constexpr const char* kScript = R"PY(
import sys, torch
from torch.optim import lr_scheduler as S
def make(adam):
    p = [torch.nn.Parameter(torch.zeros(1))]
    return torch.optim.Adam(p, lr=0.1) if adam else torch.optim.SGD(p, lr=0.1, momentum=0.9)
def mom(o):
    g = o.param_groups[0]
    return g['betas'][0] if 'betas' in g else g['momentum']
def metric(i):
    return 1.0 / (1 + i // 4) + 0.001 * (i % 4)
cases = [
 ('StepLR', False, lambda o: S.StepLR(o, 3, 0.5)),
 ('MultiStepLR', False, lambda o: S.MultiStepLR(o, [2, 5, 5, 9], 0.3)),
 ('ExponentialLR', False, lambda o: S.ExponentialLR(o, 0.9)),
 ('LinearLR', False, lambda o: S.LinearLR(o, 0.25, 0.9, 7)),
 ('ConstantLR', False, lambda o: S.ConstantLR(o, 0.4, 4)),
 ('LambdaLR', False, lambda o: S.LambdaLR(o, lambda e: 0.95 ** e + (e % 3) * 0.1)),
 ('CosineAnnealingLR', False, lambda o: S.CosineAnnealingLR(o, 7, 0.001)),
 ('CosineAnnealingWarmRestarts', False, lambda o: S.CosineAnnealingWarmRestarts(o, 4, 2, 0.01)),
 ('OneCycleLR', False, lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=40)),
 ('OneCycleLR_linear_three_phase', False, lambda o: S.OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=10, anneal_strategy='linear', three_phase=True)),
 ('OneCycleLR_adam', True, lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=30)),
 ('CyclicLR', False, lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=6)),
 ('CyclicLR_triangular2', False, lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode='triangular2')),
 ('CyclicLR_exp_range', False, lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode='exp_range', gamma=0.97, cycle_momentum=False)),
 ('PolynomialLR', False, lambda o: S.PolynomialLR(o, 8, 2.0)),
 ('SequentialLR', False, lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, 1.0, 3), S.ExponentialLR(o, 0.8), S.CosineAnnealingLR(o, 5)], [3, 8])),
 ('ReduceLROnPlateau', False, lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.01)),
]
skip = {'_scale_fn_ref', '_scale_fn_custom', 'anneal_func'}
with open(sys.argv[1], 'w') as out:
    out.write('torch_major %s\n' % torch.__version__.split('.')[0])
    for name, adam, make_s in cases:
        o = make(adam)
        s = make_s(o)
        lrs, moms = [o.param_groups[0]['lr']], [mom(o)]
        for i in range($STEPS):
            o.step()
            s.step(metric(i)) if name == 'ReduceLROnPlateau' else s.step()
            lrs.append(o.param_groups[0]['lr'])
            moms.append(mom(o))
        out.write('case %s\n' % name)
        out.write('lr %s\n' % ' '.join(repr(float(v)) for v in lrs))
        out.write('momentum %s\n' % ' '.join(repr(float(v)) for v in moms))
        out.write('keys %s\n' % ' '.join(sorted(k for k in s.state_dict() if k not in skip)))
)PY";

struct Expected {
  std::vector<double> lr, momentum;
  std::set<std::string> keys;
};

struct PythonSequences {
  int torch_major = 0;
  std::map<std::string, Expected> cases;
};

PythonSequences python_sequences() {
  TempDir dir;
  std::string script = kScript;
  script.replace(script.find("$STEPS"), 6, std::to_string(kSteps));
  auto result = run_python(script, dir.file("schedulers.py"), dir.file("out.txt"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  PythonSequences all;
  std::ifstream in(dir.file("out.txt"));
  std::string line, current;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "torch_major") {
      words >> all.torch_major;
      continue;
    }
    if (kind == "case") {
      words >> current;
      continue;
    }
    auto& e = all.cases[current];
    std::string word;
    while (words >> word) {
      if (kind == "keys")
        e.keys.insert(word);
      else
        (kind == "lr" ? e.lr : e.momentum).push_back(std::stod(word));
    }
  }
  return all;
}

}  // namespace

TEST(LRScheduler, EverySchedulerMatchesPyTorch) {
  if (!python_torch_available()) GTEST_SKIP() << "python3-torch is not installed";
  const auto python = python_sequences();
  const auto& expected = python.cases;
  // We write LibTorch 1.13's (Debian's) state_dict layout. PyTorch 2.x dropped `verbose` and added
  // internals its constructors set (`_is_initial`, `_anneal_func_type`, CyclicLR's `use_beta1`);
  // its load_state_dict takes our layout (LRSchedulers.PythonContinuesTheScheduleFromOurCheckpoint).
  auto comparable = [&](std::set<std::string> keys) {
    if (python.torch_major >= 2)
      for (const char* k : {"verbose", "_is_initial", "_anneal_func_type", "use_beta1"}) keys.erase(k);
    return keys;
  };
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(expected.count(c.name));
    const auto& e = expected.at(c.name);
    auto optimizer = make_optimizer(c.adam);
    auto scheduler = c.make(optimizer);
    std::vector<double> lrs{optimizer->param_groups()[0].options().get_lr()}, moms{momentum(*optimizer)};
    for (int i = 0; i < kSteps; ++i) {
      if (scheduler->reduce_on_plateau())
        scheduler->step(metric(i));
      else
        scheduler->step();
      lrs.push_back(optimizer->param_groups()[0].options().get_lr());
      moms.push_back(momentum(*optimizer));
      EXPECT_EQ(scheduler->get_last_lr().front(), lrs.back());
    }
    ASSERT_EQ(lrs.size(), e.lr.size());
    for (size_t i = 0; i < lrs.size(); ++i) {
      EXPECT_DOUBLE_EQ(lrs[i], e.lr[i]) << "lr at step " << i;
      EXPECT_DOUBLE_EQ(moms[i], e.momentum[i]) << "momentum at step " << i;
    }
    std::set<std::string> keys;
    for (const auto& entry : scheduler->state_dict()) keys.insert(entry.key().toStringRef());
    EXPECT_EQ(comparable(keys), comparable(e.keys));
  }
}

TEST(LRScheduler, StateDictRoundTripContinuesTheSequence) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto a_opt = make_optimizer(c.adam);
    auto a = c.make(a_opt);
    auto step = [](LRScheduler& s, int i) { s.reduce_on_plateau() ? s.step(metric(i)) : s.step(); };
    for (int i = 0; i < 7; ++i) step(*a, i);
    auto b_opt = make_optimizer(c.adam);
    auto b = c.make(b_opt);
    b->load_state_dict(a->state_dict());
    b_opt->param_groups()[0].options().set_lr(a_opt->param_groups()[0].options().get_lr());
    for (int i = 7; i < 15; ++i) {
      step(*a, i);
      step(*b, i);
      EXPECT_EQ(a->get_last_lr(), b->get_last_lr()) << "step " << i;
    }
  }
}

TEST(LRScheduler, StepLRKnownValuesAndErrors) {
  auto o = make_optimizer(false);
  StepLR s(o, 2, 0.1);
  std::vector<double> lrs;
  for (int i = 0; i < 5; ++i) {
    lrs.push_back(s.get_last_lr()[0]);
    s.step();
  }
  EXPECT_DOUBLE_EQ(lrs[0], 0.1);
  EXPECT_DOUBLE_EQ(lrs[1], 0.1);
  EXPECT_DOUBLE_EQ(lrs[2], 0.01);
  EXPECT_DOUBLE_EQ(lrs[4], 0.001);
  EXPECT_EQ(s.state_dict().at("last_epoch").toInt(), 5);
  EXPECT_TRUE(contains(error_of([&] { StepLR(o, 0); }), "step_size=0"));
  EXPECT_TRUE(contains(error_of([&] { s.step(1.0); }), "only ReduceLROnPlateau"));
  EXPECT_TRUE(contains(error_of([] { StepLR(nullptr, 1); }), "optimizer is null"));
  ReduceLROnPlateau plateau(o);
  EXPECT_TRUE(contains(error_of([&] { plateau.step(); }), "monitored metric"));
  EXPECT_TRUE(contains(error_of([&] { ReduceLROnPlateau(o, {.factor = 1.5}); }), "factor=1.5"));
  auto adagrad_like = std::make_shared<torch::optim::SGD>(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())},
                                                          torch::optim::SGDOptions(0.1));
  EXPECT_TRUE(contains(error_of([&] { OneCycleLR(adagrad_like, {.max_lr = 1}); }), "total_steps"));
}
