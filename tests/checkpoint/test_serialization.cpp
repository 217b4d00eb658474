// torch_save / torch_load: round trips, Python interop both ways, bad input, atomic writes.
#include <gtest/gtest.h>

#include <lightning/checkpoint/serialization.h>
#include <lightning/utilities/errors.h>

#include "helpers/errors.h"
#include "helpers/python.h"
#include "helpers/temp_dir.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <zlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <utility>

namespace {

using lightning::CheckpointError;
using lightning::torch_load;
using lightning::torch_load_from_bytes;
using lightning::torch_save;
using lightning::testing::TempDir;

using lightning::testing::contains;

template <typename F>
std::string checkpoint_error(F&& f) {
  return lightning::testing::error_of<CheckpointError>(std::forward<F>(f));
}

std::vector<std::string> list_folder(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path.c_str())) {
    while (auto e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

c10::impl::GenericDict str_dict() { return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get()); }
c10::impl::GenericList any_list() { return c10::impl::GenericList(c10::AnyType::get()); }
c10::IValue at(const c10::IValue& dict, const c10::IValue& key) { return dict.toGenericDict().at(key); }
c10::IValue at(const c10::IValue& dict, const char* key) { return at(dict, c10::IValue(key)); }

// The values both languages compute for a dtype: (arange(24) - 5) as 2x3x4.
torch::Tensor pattern(torch::ScalarType dtype) {
  auto base = (torch::arange(24) - 5).reshape({2, 3, 4});
  if (dtype == torch::kComplexFloat) {
    auto f = base.to(torch::kFloat);
    return torch::complex(f, f * 2);
  }
  return base.to(dtype);
}

const std::vector<std::pair<std::string, torch::ScalarType>> kDtypes = {
    {"f64", torch::kDouble}, {"f32", torch::kFloat},  {"f16", torch::kHalf},  {"bf16", torch::kBFloat16},
    {"i8", torch::kChar},    {"i16", torch::kShort},  {"i32", torch::kInt},   {"i64", torch::kLong},
    {"u8", torch::kByte},    {"bool", torch::kBool},  {"c64", torch::kComplexFloat}};

constexpr const char* kPythonDtypes = R"(
import torch
DTYPES = {'f64': torch.float64, 'f32': torch.float32, 'f16': torch.float16, 'bf16': torch.bfloat16,
          'i8': torch.int8, 'i16': torch.int16, 'i32': torch.int32, 'i64': torch.int64,
          'u8': torch.uint8, 'bool': torch.bool, 'c64': torch.complex64}
def pattern(dt):
    base = (torch.arange(24) - 5).reshape(2, 3, 4)
    if dt == torch.complex64:
        f = base.float()
        return torch.complex(f, f * 2)
    return base.to(dt)
)";

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && torch::equal(a, b);
}

// A dict with every kind of value our writer supports.
c10::impl::GenericDict everything() {
  auto d = str_dict();
  d.insert("int", int64_t{7});
  d.insert("neg", int64_t{-3});
  d.insert("big", int64_t{1} << 40);
  d.insert("minbig", -(int64_t{1} << 62));
  d.insert("float", 1.5);
  d.insert("true", true);
  d.insert("none", c10::IValue());
  d.insert("str", std::string("h\xc3\xa9llo \xe2\x9c\x93"));
  d.insert("complex", c10::complex<double>(1.5, -2));
  d.insert("device", c10::Device("cpu"));
  d.insert("tuple", c10::ivalue::Tuple::create({int64_t{1}, std::string("two"), 3.0}));
  auto inner = str_dict();
  inner.insert("b", c10::ivalue::Tuple::create({int64_t{4}}));
  auto nested_list = any_list();
  nested_list.push_back(int64_t{1});
  auto pair = any_list();
  pair.push_back(int64_t{2});
  pair.push_back(int64_t{3});
  nested_list.push_back(pair);
  nested_list.push_back(inner);
  auto nested = str_dict();
  nested.insert("a", nested_list);
  d.insert("nested", nested);
  c10::impl::GenericDict int_keys(c10::IntType::get(), c10::AnyType::get());
  int_keys.insert(int64_t{1}, std::string("one"));
  int_keys.insert(int64_t{2}, std::string("two"));
  d.insert("intkeys", int_keys);
  auto dtypes = str_dict();
  for (const auto& [name, dtype] : kDtypes) dtypes.insert(name, pattern(dtype));
  d.insert("dtypes", dtypes);
  auto base = torch::arange(20, torch::kFloat);
  d.insert("base", base);
  d.insert("slice", base.slice(0, 2, 10));
  d.insert("column", base.view({4, 5}).select(1, 1));
  d.insert("transposed", base.view({4, 5}).t());
  d.insert("scalar", torch::tensor(3.5, torch::kDouble));
  d.insert("empty", torch::zeros({0, 3}));
  d.insert("param", torch::arange(4, torch::kFloat).requires_grad_(true));
  return d;
}

void expect_everything(const c10::IValue& v) {
  ASSERT_TRUE(v.isGenericDict());
  auto d = v.toGenericDict();
  EXPECT_EQ(at(v, "int").toInt(), 7);
  EXPECT_EQ(at(v, "neg").toInt(), -3);
  EXPECT_EQ(at(v, "big").toInt(), int64_t{1} << 40);
  EXPECT_EQ(at(v, "minbig").toInt(), -(int64_t{1} << 62));
  EXPECT_EQ(at(v, "float").toDouble(), 1.5);
  EXPECT_EQ(at(v, "true").toBool(), true);
  EXPECT_TRUE(at(v, "none").isNone());
  EXPECT_EQ(at(v, "str").toStringRef(), "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(at(v, "complex").toComplexDouble(), c10::complex<double>(1.5, -2));
  EXPECT_EQ(at(v, "device").toStringRef(), "cpu");
  auto tuple = at(v, "tuple").toTupleRef().elements();
  ASSERT_EQ(tuple.size(), 3u);
  EXPECT_EQ(tuple[0].toInt(), 1);
  EXPECT_EQ(tuple[1].toStringRef(), "two");
  EXPECT_EQ(tuple[2].toDouble(), 3.0);
  auto nested = at(at(v, "nested"), "a").toListRef();
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested[1].toListRef()[1].toInt(), 3);
  EXPECT_EQ(at(nested[2], "b").toTupleRef().elements()[0].toInt(), 4);
  EXPECT_EQ(at(at(v, "intkeys"), c10::IValue(int64_t{2})).toStringRef(), "two");
  for (const auto& [name, dtype] : kDtypes)
    EXPECT_TRUE(same(at(at(v, "dtypes"), name.c_str()).toTensor(), pattern(dtype))) << name;
  auto base = at(v, "base").toTensor(), slice = at(v, "slice").toTensor();
  auto column = at(v, "column").toTensor(), transposed = at(v, "transposed").toTensor();
  EXPECT_TRUE(same(base, torch::arange(20, torch::kFloat)));
  EXPECT_TRUE(slice.storage().is_alias_of(base.storage()));
  EXPECT_TRUE(column.storage().is_alias_of(base.storage()));
  EXPECT_EQ(slice.storage_offset(), 2);
  EXPECT_EQ(column.storage_offset(), 1);
  EXPECT_EQ(column.strides(), c10::IntArrayRef({5}));
  EXPECT_EQ(transposed.strides(), c10::IntArrayRef({1, 5}));
  EXPECT_TRUE(same(column, torch::arange(20, torch::kFloat).view({4, 5}).select(1, 1)));
  base[3] = 100;  // shared memory, not equal copies
  EXPECT_EQ(slice[1].item<float>(), 100);
  EXPECT_EQ(at(v, "scalar").toTensor().dim(), 0);
  EXPECT_EQ(at(v, "scalar").toTensor().item<double>(), 3.5);
  EXPECT_EQ(at(v, "empty").toTensor().sizes(), c10::IntArrayRef({0, 3}));
  EXPECT_TRUE(at(v, "param").toTensor().requires_grad());
  std::vector<std::string> keys;
  for (const auto& entry : d) keys.push_back(entry.key().toStringRef());
  EXPECT_EQ(keys.front(), "int");
  EXPECT_EQ(keys.back(), "param");
}

TEST(Serialization, RoundTripKeepsValuesViewsAndOrder) {
  TempDir dir;
  torch_save(everything(), dir.file("all.pt"));
  expect_everything(torch_load(dir.file("all.pt")));
  auto bytes = lightning::torch_save_to_bytes(everything());
  expect_everything(torch_load_from_bytes(bytes.data(), bytes.size(), "memory"));
  EXPECT_EQ(bytes, lightning::torch_save_to_bytes(everything()));  // deterministic
}

TEST(Serialization, PythonReadsWhatCppWrites) {
  if (!lightning::testing::python_torch_available()) GTEST_SKIP() << "/usr/bin/python3 has no torch";
  TempDir dir;
  torch_save(everything(), dir.file("all.pt"));
  auto weights = str_dict();  // what torch.load(weights_only=True) of 1.13 can read (no floats)
  auto w = torch::arange(6, torch::kFloat);
  weights.insert("w", w);
  weights.insert("view", w.slice(0, 1, 3));
  weights.insert("steps", int64_t{3});
  torch_save(weights, dir.file("weights.pt"));
  std::string script = std::string(kPythonDtypes) + R"(
import sys
d = torch.load(sys.argv[1])
assert type(d) is dict, type(d)
assert list(d)[:3] == ['int', 'neg', 'big'] and list(d)[-1] == 'param', list(d)
assert d['int'] == 7 and d['neg'] == -3 and d['big'] == 2**40 and d['minbig'] == -2**62
assert d['float'] == 1.5 and d['true'] is True and d['none'] is None
assert d['str'] == 'h\u00e9llo \u2713', d['str']
assert d['complex'] == complex(1.5, -2) and d['device'] == 'cpu'
assert d['tuple'] == (1, 'two', 3.0), d['tuple']
assert d['nested'] == {'a': [1, [2, 3], {'b': (4,)}]}, d['nested']
assert d['intkeys'] == {1: 'one', 2: 'two'} and list(d['intkeys']) == [1, 2]
for name, dt in DTYPES.items():
    t = d['dtypes'][name]
    assert t.dtype == dt and torch.equal(t, pattern(dt)), (name, t)
base, sl, col, tr = d['base'], d['slice'], d['column'], d['transposed']
assert torch.equal(base, torch.arange(20.))
assert sl.storage().data_ptr() == base.storage().data_ptr() == col.storage().data_ptr() == tr.storage().data_ptr()
assert sl.storage_offset() == 2 and col.storage_offset() == 1 and col.stride() == (5,) and tr.stride() == (1, 5)
base[3] = 100
assert sl[1] == 100 and tr[3, 0] == 100
assert d['scalar'].dim() == 0 and d['scalar'].item() == 3.5 and d['scalar'].dtype == torch.float64
assert d['empty'].shape == (0, 3)
assert d['param'].requires_grad and torch.equal(d['param'].detach(), torch.arange(4.))
w = torch.load(sys.argv[2], weights_only=True)
assert torch.equal(w['view'], torch.tensor([1., 2.])) and w['steps'] == 3
print('ok')
)";
  auto r = lightning::testing::run_python(script, dir.file("check.py"), dir.file("all.pt") + " " + dir.file("weights.pt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "ok")) << r.output;
}

constexpr const char* kPythonWriter = R"(
import sys, types, argparse, datetime
from collections import OrderedDict
out = sys.argv[1]

# Lightning's AttributeDict under its real module path, without Lightning installed.
for name in ['lightning', 'lightning.fabric', 'lightning.fabric.utilities', 'lightning.fabric.utilities.data']:
    sys.modules.setdefault(name, types.ModuleType(name))
class AttributeDict(dict):
    pass
AttributeDict.__module__ = 'lightning.fabric.utilities.data'
sys.modules['lightning.fabric.utilities.data'].AttributeDict = AttributeDict

model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
with torch.no_grad():
    for i, p in enumerate(model.state_dict().values()):
        if p.dtype.is_floating_point:
            p.copy_(torch.arange(p.numel(), dtype=p.dtype).reshape(p.shape) * 0.25 + i)
        else:
            p.fill_(7)

base = torch.arange(20.)
misc = {
    'dtypes': {name: pattern(dt) for name, dt in DTYPES.items()},
    'base': base, 'slice': base[2:10], 'column': base.view(4, 5)[:, 1], 'transposed': base.view(4, 5).t(),
    'scalar': torch.tensor(3.5, dtype=torch.float64), 'empty': torch.zeros(0, 3),
    'param': torch.nn.Parameter(torch.arange(4.)), 'size': torch.Size([2, 3]),
    'nested': [1, [2.5, 'x', (3, None)], (True, False)],
    'set': {1, 2, 3}, 'frozenset': frozenset(['a']),
    'intkeys': {10: 'ten', 2: 'two'}, 'mixed': {1: 'one', 'two': 2},
    'bytes': b'\x00\xffab', 'empty_bytes': b'',
    'big': 2**40, 'neg_big': -2**62, 'neg': -5, 'float': -0.125, 'str': 'h\u00e9llo \u2713', 'none': None, 'true': True,
    'long_list': list(range(2000)),
    'dtype': torch.float16, 'device': torch.device('cuda', 1), 'cpu': torch.device('cpu'), 'complex': 1.5 - 2j,
}
ckpt = {
    'epoch': 3, 'global_step': 120, 'pytorch-lightning_version': '2.2.5',
    'state_dict': model.state_dict(),
    'loops': {'fit_loop': {'state_dict': {}, 'epoch_progress': {'total': {'ready': 4, 'completed': 3}}}},
    'callbacks': {"ModelCheckpoint{'monitor': 'val_loss'}": {'best_model_score': torch.tensor(0.25),
                                                            'best_k_models': {'/tmp/a.ckpt': torch.tensor(0.25)}}},
    'optimizer_states': [{'state': {0: {'momentum_buffer': torch.arange(12.).reshape(4, 3)},
                                    1: {'momentum_buffer': torch.arange(4.)}},
                          'param_groups': [{'lr': 0.1, 'momentum': 0.9, 'nesterov': False, 'foreach': None,
                                            'params': [0, 1, 2, 3, 4, 5, 6, 7]}]}],
    'lr_schedulers': [{'step_size': 30, 'gamma': 0.1, 'base_lrs': [0.1], 'last_epoch': 3, '_last_lr': [0.1]}],
    'hparams_name': 'kwargs',
    'hyper_parameters': AttributeDict(lr=0.1, hidden=[4, 2], args=argparse.Namespace(batch_size=32, name='mlp')),
}
for proto in (2, 4, 5):
    torch.save(model.state_dict(), f'{out}/state_dict_p{proto}.pt', pickle_protocol=proto)
    torch.save(misc, f'{out}/misc_p{proto}.pt', pickle_protocol=proto)
    torch.save(ckpt, f'{out}/lightning_p{proto}.ckpt', pickle_protocol=proto)
torch.save({'when': datetime.date(2020, 1, 1)}, f'{out}/date.pt')
print('ok')
)";

// Written once per test binary run: the files Python writes.
class PythonWritten : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!lightning::testing::python_torch_available()) return;
    dir_ = new TempDir;
    auto r = lightning::testing::run_python(std::string(kPythonDtypes) + kPythonWriter, dir_->file("write.py"),
                                            dir_->path());
    if (r.exit_code != 0) output_ = r.output.empty() ? "python failed" : r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!lightning::testing::python_torch_available()) GTEST_SKIP() << "/usr/bin/python3 has no torch";
    ASSERT_TRUE(output_.empty()) << output_;
  }
  static std::string file(const std::string& name) { return dir_->file(name); }
  static inline TempDir* dir_ = nullptr;
  static inline std::string output_;
};

torch::Tensor expected_param(int64_t index, c10::IntArrayRef shape) {
  return torch::arange(c10::multiply_integers(shape), torch::kFloat).reshape(shape) * 0.25 + index;
}

void expect_state_dict(const c10::IValue& v) {
  ASSERT_TRUE(v.isGenericDict());
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"0.weight", {4, 3}},       {"0.bias", {4}},          {"1.weight", {4}}, {"1.bias", {4}},
      {"1.running_mean", {4}},    {"1.running_var", {4}},   {"1.num_batches_tracked", {}},
      {"2.weight", {2, 4}},       {"2.bias", {2}}};
  auto d = v.toGenericDict();
  ASSERT_EQ(d.size(), expected.size());
  size_t i = 0;
  for (const auto& entry : d) {
    const auto& [name, shape] = expected[i];
    EXPECT_EQ(entry.key().toStringRef(), name);
    auto t = entry.value().toTensor();
    if (name == "1.num_batches_tracked") {
      EXPECT_TRUE(same(t, torch::tensor(7, torch::kLong).reshape({})));
    } else {
      EXPECT_TRUE(same(t, expected_param(static_cast<int64_t>(i), shape))) << name << "\n" << t;
    }
    ++i;
  }
  EXPECT_TRUE(at(v, "0.weight").toTensor().equal(expected_param(0, {4, 3})));
}

TEST_F(PythonWritten, StateDictOfSequential) {
  for (int proto : {2, 4, 5}) {
    SCOPED_TRACE(proto);
    expect_state_dict(torch_load(file("state_dict_p" + std::to_string(proto) + ".pt")));
  }
}

TEST_F(PythonWritten, EveryValueKind) {
  for (int proto : {2, 4, 5}) {
    SCOPED_TRACE(proto);
    auto v = torch_load(file("misc_p" + std::to_string(proto) + ".pt"));
    for (const auto& [name, dtype] : kDtypes)
      EXPECT_TRUE(same(at(at(v, "dtypes"), name.c_str()).toTensor(), pattern(dtype))) << name;
    auto base = at(v, "base").toTensor(), slice = at(v, "slice").toTensor();
    auto column = at(v, "column").toTensor(), transposed = at(v, "transposed").toTensor();
    EXPECT_TRUE(same(base, torch::arange(20, torch::kFloat)));
    EXPECT_TRUE(same(slice, torch::arange(2, 10, torch::kFloat)));
    EXPECT_TRUE(same(column, torch::arange(20, torch::kFloat).view({4, 5}).select(1, 1)));
    EXPECT_TRUE(same(transposed, torch::arange(20, torch::kFloat).view({4, 5}).t()));
    EXPECT_EQ(transposed.strides(), c10::IntArrayRef({1, 5}));
    base[3] = 100;
    EXPECT_EQ(slice[1].item<float>(), 100);
    EXPECT_EQ(transposed[3][0].item<float>(), 100);
    EXPECT_EQ(at(v, "scalar").toTensor().dim(), 0);
    EXPECT_EQ(at(v, "scalar").toTensor().item<double>(), 3.5);
    EXPECT_EQ(at(v, "empty").toTensor().sizes(), c10::IntArrayRef({0, 3}));
    EXPECT_TRUE(at(v, "param").toTensor().requires_grad());
    EXPECT_TRUE(same(at(v, "param").toTensor().detach(), torch::arange(4, torch::kFloat)));
    auto size = at(v, "size").toTupleRef().elements();
    ASSERT_EQ(size.size(), 2u);
    EXPECT_EQ(size[1].toInt(), 3);
    auto nested = at(v, "nested").toListRef();
    ASSERT_EQ(nested.size(), 3u);
    EXPECT_EQ(nested[1].toListRef()[0].toDouble(), 2.5);
    EXPECT_EQ(nested[1].toListRef()[1].toStringRef(), "x");
    EXPECT_TRUE(nested[1].toListRef()[2].toTupleRef().elements()[1].isNone());
    EXPECT_FALSE(nested[2].toTupleRef().elements()[1].toBool());
    std::set<int64_t> set;
    for (const auto& e : at(v, "set").toListRef()) set.insert(e.toInt());
    EXPECT_EQ(set, (std::set<int64_t>{1, 2, 3}));
    EXPECT_EQ(at(v, "frozenset").toListRef()[0].toStringRef(), "a");
    auto int_keys = at(v, "intkeys").toGenericDict();
    EXPECT_EQ(int_keys.begin()->key().toInt(), 10);  // insertion order
    EXPECT_EQ(int_keys.at(int64_t{2}).toStringRef(), "two");
    EXPECT_EQ(at(at(v, "mixed"), c10::IValue(int64_t{1})).toStringRef(), "one");
    EXPECT_EQ(at(at(v, "mixed"), "two").toInt(), 2);
    EXPECT_EQ(at(v, "bytes").toStringRef(), std::string("\x00\xff" "ab", 4));
    EXPECT_EQ(at(v, "empty_bytes").toStringRef(), "");
    EXPECT_EQ(at(v, "big").toInt(), int64_t{1} << 40);
    EXPECT_EQ(at(v, "neg_big").toInt(), -(int64_t{1} << 62));
    EXPECT_EQ(at(v, "neg").toInt(), -5);
    EXPECT_EQ(at(v, "float").toDouble(), -0.125);
    EXPECT_EQ(at(v, "str").toStringRef(), "h\xc3\xa9llo \xe2\x9c\x93");
    EXPECT_TRUE(at(v, "none").isNone());
    EXPECT_TRUE(at(v, "true").toBool());
    EXPECT_EQ(at(v, "dtype").toStringRef(), "torch.float16");
    EXPECT_EQ(at(v, "device").toStringRef(), "cuda:1");
    EXPECT_EQ(at(v, "cpu").toStringRef(), "cpu");
    EXPECT_EQ(at(v, "complex").toComplexDouble(), c10::complex<double>(1.5, -2));
    auto long_list = at(v, "long_list").toListRef();
    ASSERT_EQ(long_list.size(), 2000u);
    EXPECT_EQ(long_list[1999].toInt(), 1999);
  }
}

TEST_F(PythonWritten, LightningCheckpoint) {
  for (int proto : {2, 4, 5}) {
    SCOPED_TRACE(proto);
    auto v = torch_load(file("lightning_p" + std::to_string(proto) + ".ckpt"));
    std::vector<std::string> keys;
    for (const auto& entry : v.toGenericDict()) keys.push_back(entry.key().toStringRef());
    EXPECT_EQ(keys, (std::vector<std::string>{"epoch", "global_step", "pytorch-lightning_version", "state_dict",
                                              "loops", "callbacks", "optimizer_states", "lr_schedulers",
                                              "hparams_name", "hyper_parameters"}));
    EXPECT_EQ(at(v, "epoch").toInt(), 3);
    EXPECT_EQ(at(v, "global_step").toInt(), 120);
    EXPECT_EQ(at(v, "pytorch-lightning_version").toStringRef(), "2.2.5");
    expect_state_dict(at(v, "state_dict"));
    auto progress = at(at(at(at(v, "loops"), "fit_loop"), "epoch_progress"), "total");
    EXPECT_EQ(at(progress, "completed").toInt(), 3);
    auto callback = at(at(v, "callbacks"), "ModelCheckpoint{'monitor': 'val_loss'}");
    EXPECT_EQ(at(callback, "best_model_score").toTensor().item<float>(), 0.25f);
    EXPECT_EQ(at(at(callback, "best_k_models"), "/tmp/a.ckpt").toTensor().item<float>(), 0.25f);
    auto optimizer = v.toGenericDict().at("optimizer_states").toListRef()[0];
    auto state = at(optimizer, "state");
    EXPECT_TRUE(same(at(at(state, c10::IValue(int64_t{0})), "momentum_buffer").toTensor(),
                     torch::arange(12, torch::kFloat).reshape({4, 3})));
    EXPECT_TRUE(same(at(at(state, c10::IValue(int64_t{1})), "momentum_buffer").toTensor(),
                     torch::arange(4, torch::kFloat)));
    auto group = at(optimizer, "param_groups").toListRef()[0];
    EXPECT_EQ(at(group, "lr").toDouble(), 0.1);
    EXPECT_FALSE(at(group, "nesterov").toBool());
    EXPECT_TRUE(at(group, "foreach").isNone());
    EXPECT_EQ(at(group, "params").toListRef().size(), 8u);
    EXPECT_EQ(at(group, "params").toListRef()[7].toInt(), 7);
    auto scheduler = v.toGenericDict().at("lr_schedulers").toListRef()[0];
    EXPECT_EQ(at(scheduler, "step_size").toInt(), 30);
    EXPECT_EQ(at(scheduler, "_last_lr").toListRef()[0].toDouble(), 0.1);
    auto hparams = at(v, "hyper_parameters");
    EXPECT_EQ(at(hparams, "lr").toDouble(), 0.1);
    EXPECT_EQ(at(hparams, "hidden").toListRef()[1].toInt(), 2);
    EXPECT_EQ(at(at(hparams, "args"), "batch_size").toInt(), 32);  // argparse.Namespace as a dict
    EXPECT_EQ(at(at(hparams, "args"), "name").toStringRef(), "mlp");
  }
}

TEST_F(PythonWritten, CppRewritesWhatPythonReadsBack) {
  auto v = torch_load(file("lightning_p2.ckpt"));
  torch_save(v, file("rewritten.ckpt"));
  expect_state_dict(at(torch_load(file("rewritten.ckpt")), "state_dict"));
  auto r = lightning::testing::run_python(R"(
import sys, torch
b = torch.load(sys.argv[1])
assert list(b)[:4] == ['epoch', 'global_step', 'pytorch-lightning_version', 'state_dict'], list(b)
assert list(b['state_dict'])[-1] == '2.bias'
assert torch.equal(b['state_dict']['2.weight'], torch.arange(8.).reshape(2, 4) * 0.25 + 7)
assert torch.equal(b['optimizer_states'][0]['state'][0]['momentum_buffer'], torch.arange(12.).reshape(4, 3))
assert b['optimizer_states'][0]['param_groups'][0]['params'] == list(range(8))
assert b['hyper_parameters'] == {'lr': 0.1, 'hidden': [4, 2], 'args': {'batch_size': 32, 'name': 'mlp'}}
)", file("reread.py"), file("rewritten.ckpt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(PythonWritten, UnknownClassIsNamed) {
  auto message = checkpoint_error([] { torch_load(file("date.pt")); });
  EXPECT_TRUE(contains(message, "datetime.date")) << message;
  EXPECT_TRUE(contains(message, file("date.pt"))) << message;
}

// ---- hand-made files for bad input ----

// Just enough of a pickler to write broken data.
struct Pickle {
  std::string s = "\x80\x02";
  Pickle& op(std::string_view o) {
    s.append(o);
    return *this;
  }
  Pickle& str(std::string_view v) {
    s += 'X';
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v.size() >> (8 * i)) & 0xff);
    s.append(v);
    return *this;
  }
  Pickle& i(int64_t v) {  // LONG1 with 8 bytes
    s += "\x8a\x08";
    for (int k = 0; k < 8; ++k) s += static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xff);
    return *this;
  }
  Pickle& global(std::string_view module, std::string_view name) {
    s.append("c").append(module).append("\n").append(name).append("\n");
    return *this;
  }
  Pickle& ints(const std::vector<int64_t>& values) {
    op("(");
    for (auto v : values) i(v);
    return op("t");
  }
  std::string done() const { return s + "."; }
};

std::string tensor_pickle(const std::string& key, int64_t numel, int64_t offset, const std::vector<int64_t>& sizes,
                          const std::vector<int64_t>& strides, const std::string& storage_module = "torch",
                          const std::string& storage_type = "FloatStorage") {
  Pickle p;
  p.global("torch._utils", "_rebuild_tensor_v2").op("((").str("storage").global(storage_module, storage_type);
  p.str(key).str("cpu").i(numel).op("tQ").i(offset).ints(sizes).ints(strides).op("\x89");
  return p.global("collections", "OrderedDict").op(")R").op("tR").done();
}

std::vector<char> archive(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& records,
                          bool with_pkl = true) {
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    out.insert(out.end(), static_cast<const char*>(data), static_cast<const char*>(data) + n);
    return n;
  });
  if (with_pkl) writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& [name, data] : records) writer.writeRecord(name, data.data(), data.size());
  writer.writeEndOfFile();
  return out;
}

std::string load_error(const std::vector<char>& bytes) {
  return checkpoint_error([&] { torch_load_from_bytes(bytes.data(), bytes.size(), "bad.pt"); });
}

const std::string kFourFloats(16, '\0');

TEST(SerializationBadInput, HandMadeTensorFileLoads) {  // the helpers above write valid files
  auto bytes = archive(tensor_pickle("0", 4, 1, {3}, {1}), {{"data/0", kFourFloats}});
  auto t = torch_load_from_bytes(bytes.data(), bytes.size(), "ok").toTensor();
  EXPECT_EQ(t.sizes(), c10::IntArrayRef({3}));
  EXPECT_EQ(t.storage_offset(), 1);
}

// A zip64 archive, as writers produce beyond 4 GiB: sizes and offsets saturated in the
// headers and given in zip64 extra fields, plus the zip64 end record and its locator.
std::vector<char> zip64_archive(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string out, directory;
  auto put = [](std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (const auto& [name, data] : records) {
    const uint64_t offset = out.size();
    const uint32_t crc = crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size());
    put(out, 0x04034b50, 4), put(out, 45, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 4), put(out, crc, 4);
    put(out, 0xffffffff, 4), put(out, 0xffffffff, 4), put(out, name.size(), 2), put(out, 20, 2);
    out += name;
    put(out, 1, 2), put(out, 16, 2), put(out, data.size(), 8), put(out, data.size(), 8);
    out += data;
    put(directory, 0x02014b50, 4), put(directory, 45, 2), put(directory, 45, 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0, 4), put(directory, crc, 4), put(directory, 0xffffffff, 4);
    put(directory, 0xffffffff, 4), put(directory, name.size(), 2), put(directory, 28, 2), put(directory, 0, 2);
    put(directory, 0, 2), put(directory, 0, 2), put(directory, 0, 4), put(directory, 0xffffffff, 4);
    directory += name;
    put(directory, 1, 2), put(directory, 24, 2), put(directory, data.size(), 8), put(directory, data.size(), 8);
    put(directory, offset, 8);
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  const uint64_t end64 = out.size();
  put(out, 0x06064b50, 4), put(out, 44, 8), put(out, 45, 2), put(out, 45, 2), put(out, 0, 4), put(out, 0, 4);
  put(out, records.size(), 8), put(out, records.size(), 8), put(out, directory.size(), 8), put(out, directory_offset, 8);
  put(out, 0x07064b50, 4), put(out, 0, 4), put(out, end64, 8), put(out, 1, 4);
  put(out, 0x06054b50, 4), put(out, 0, 4), put(out, 0xffff, 2), put(out, 0xffff, 2), put(out, 0xffffffff, 4);
  put(out, 0xffffffff, 4), put(out, 0, 2);
  return {out.begin(), out.end()};
}

TEST(SerializationFormat, Zip64Archive) {
  std::string data(16, '\0');
  for (int i = 0; i < 4; ++i) {
    float v = static_cast<float>(i) + 0.5f;
    std::memcpy(&data[4 * i], &v, 4);
  }
  auto bytes = zip64_archive({{"big/data.pkl", tensor_pickle("0", 4, 1, {3}, {1})}, {"big/data/0", data}});
  auto t = torch_load_from_bytes(bytes.data(), bytes.size(), "zip64.pt").toTensor();
  EXPECT_TRUE(same(t, torch::tensor({1.5f, 2.5f, 3.5f})));
}

TEST(SerializationFormat, UntypedStorageOfPyTorch2) {
  auto bytes = archive(tensor_pickle("0", 6, 2, {2, 2}, {2, 1}, "torch.storage", "UntypedStorage"), {{"data/0", "abcdef"}});
  auto t = torch_load_from_bytes(bytes.data(), bytes.size(), "untyped.pt").toTensor();
  EXPECT_EQ(t.scalar_type(), torch::kByte);
  EXPECT_TRUE(same(t, torch::tensor({'c', 'd', 'e', 'f'}, torch::kByte).reshape({2, 2})));
}

TEST(SerializationFormat, LazyConjugateAndNegativeViewsAreMaterialised) {
  auto z = torch::complex(torch::arange(3, torch::kFloat), torch::ones({3}));
  auto bytes = lightning::torch_save_to_bytes(c10::ivalue::Tuple::create({z.conj(), torch::imag(z.conj())}));
  auto loaded = torch_load_from_bytes(bytes.data(), bytes.size(), "conj.pt").toTupleRef().elements();
  EXPECT_TRUE(same(loaded[0].toTensor(), z.conj().resolve_conj()));
  EXPECT_TRUE(same(loaded[1].toTensor(), -torch::ones({3})));
}

TEST(SerializationFormat, GlobalsAsValuesLoadAsNames) {  // e.g. hparams {'dtype': torch.float16}
  auto bytes = archive(Pickle().op("}").str("dtype").global("torch", "float16").op("s").done(), {});
  EXPECT_EQ(at(torch_load_from_bytes(bytes.data(), bytes.size(), "g.pt"), "dtype").toStringRef(), "torch.float16");
}

TEST(SerializationFormat, TorchScriptPickles) {  // torch::pickle_save tags types and specialises lists
  c10::Dict<std::string, at::Tensor> tensors;
  tensors.insert("w", torch::arange(3));
  auto d = str_dict();
  d.insert("tensors", tensors);
  d.insert("ints", c10::List<int64_t>({1, 2, 3}));
  d.insert("floats", c10::List<double>({0.5}));
  auto bytes = torch::pickle_save(d);
  auto v = torch_load_from_bytes(bytes.data(), bytes.size(), "jit.pt");
  EXPECT_TRUE(same(at(at(v, "tensors"), "w").toTensor(), torch::arange(3)));
  EXPECT_EQ(at(v, "ints").toListRef()[2].toInt(), 3);
  EXPECT_EQ(at(v, "floats").toListRef()[0].toDouble(), 0.5);
}

TEST(SerializationBadInput, MissingFileNamesPathAndCause) {
  TempDir dir;
  auto message = checkpoint_error([&] { torch_load(dir.file("nope.ckpt")); });
  EXPECT_TRUE(contains(message, dir.file("nope.ckpt"))) << message;
  EXPECT_TRUE(contains(message, "No such file")) << message;
  message = checkpoint_error([&] { torch_load(dir.path()); });
  EXPECT_TRUE(contains(message, "Is a directory")) << message;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  message = checkpoint_error([&] { torch_load(dir.file("fifo")); });  // returns instead of waiting for a writer
  EXPECT_TRUE(contains(message, "not a regular file")) << message;
}

TEST(SerializationBadInput, EveryTruncationIsAnError) {
  auto d = str_dict();
  d.insert("w", torch::arange(6, torch::kFloat));
  d.insert("step", int64_t{3});
  auto bytes = lightning::torch_save_to_bytes(d);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto message = checkpoint_error([&] { torch_load_from_bytes(bytes.data(), n, "cut.pt"); });
    ASSERT_TRUE(contains(message, "cut.pt")) << n << ": " << message;
  }
  TempDir dir;  // and through a file
  std::ofstream(dir.file("cut.pt"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  EXPECT_TRUE(contains(checkpoint_error([&] { torch_load(dir.file("cut.pt")); }), dir.file("cut.pt")));
}

TEST(SerializationBadInput, RandomAndFlippedBytesNeverCrash) {
  std::mt19937 rng(7);
  for (size_t size : {0, 1, 4, 22, 100, 1000, 5000}) {
    std::vector<char> noise(size);
    for (auto& c : noise) c = static_cast<char>(rng());
    if (size >= 4) std::memcpy(noise.data(), "PK\x03\x04", 4);
    EXPECT_TRUE(contains(load_error(noise), "bad.pt"));
  }
  auto bytes = lightning::torch_save_to_bytes(everything());
  for (int trial = 0; trial < 300; ++trial) {
    auto copy = bytes;
    for (int k = 0; k < 4; ++k) copy[rng() % copy.size()] = static_cast<char>(rng());
    try {
      torch_load_from_bytes(copy.data(), copy.size(), "flipped.pt");
    } catch (const CheckpointError&) {
    }
  }
}

TEST(SerializationBadInput, CorruptedOrCompressedRecords) {
  auto bytes = lightning::torch_save_to_bytes(torch::full({64}, 1.5f));
  const char one_and_a_half[] = {0, 0, '\xc0', '\x3f'};
  auto data = std::search(bytes.begin(), bytes.end(), one_and_a_half, one_and_a_half + 4);
  ASSERT_NE(data, bytes.end());
  data[1] = 1;  // 1.5 -> 1.5000001: only the CRC can tell
  auto message = load_error(bytes);
  EXPECT_TRUE(contains(message, "'data/0' fails its CRC check")) << message;

  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    return n;
  });
  std::string pkl = Pickle().op("N").done() + std::string(1000, ' ');  // compressible
  writer.writeRecord("data.pkl", pkl.data(), pkl.size(), /*compress=*/true);
  writer.writeEndOfFile();
  message = load_error(out);
  EXPECT_TRUE(contains(message, "'archive/data.pkl' is compressed")) << message;
}

TEST(SerializationBadInput, ZipWithoutPickle) {
  auto message = load_error(archive("", {{"notes.txt", "hello"}}, false));
  EXPECT_TRUE(contains(message, "no data.pkl")) << message;
}

TEST(SerializationBadInput, MissingStorageRecord) {
  auto message = load_error(archive(tensor_pickle("7", 4, 0, {4}, {1}), {{"data/0", kFourFloats}}));
  EXPECT_TRUE(contains(message, "'data/7' is missing")) << message;
}

TEST(SerializationBadInput, SizesBeyondTheStorage) {
  auto storage = std::vector<std::pair<std::string, std::string>>{{"data/0", kFourFloats}};
  for (const auto& [pkl, problem] : std::vector<std::pair<std::string, std::string>>{
           {tensor_pickle("0", 4, 0, {5}, {1}), "exceeds its storage"},
           {tensor_pickle("0", 4, 4, {1}, {1}), "exceeds its storage"},
           {tensor_pickle("0", 4, 0, {2, 2}, {3, 1}), "exceeds its storage"},
           {tensor_pickle("0", 4, 5, {0}, {1}), "exceeds its storage"},
           {tensor_pickle("0", 4, -1, {1}, {1}), "negative"},
           {tensor_pickle("0", 4, 0, {2}, {-1}), "negative"},
           {tensor_pickle("0", 4, 0, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}), "overflows"},
           {tensor_pickle("0", 4, 0, {int64_t{1} << 62}, {1 << 4}), "overflows"},
           {tensor_pickle("0", 4, 0, {2}, {1, 1}), "differ in length"},
           {tensor_pickle("0", 8, 0, {2}, {1}), "has 16 bytes, expected 32"},
           {tensor_pickle("0", int64_t{1} << 60, 0, {2}, {1}), "has 16 bytes, expected 4611686018427387904"},
           {tensor_pickle("0", int64_t{1} << 62, 0, {2}, {1}), "overflows"},
       }) {
    auto message = load_error(archive(pkl, storage));
    EXPECT_TRUE(contains(message, problem)) << problem << ": " << message;
  }
}

TEST(SerializationBadInput, HostilePickles) {
  using namespace std::string_literals;  // the pickles below contain NUL bytes
  std::string deep = "\x80\x02" + std::string(5000, ']') + std::string(4999, 'a') + ".";
  std::string expanding = "\x80\x02}q\x00("s;  // a dict of 1000 items, then 1000 BUILDs with it
  for (int i = 0; i < 1000; ++i) expanding += "K\x01K\x02";
  expanding += "u" + Pickle().global("mod", "Cls").s.substr(2) + ")\x81";
  for (int i = 0; i < 1000; ++i) expanding += "h"s + '\0' + "b";
  expanding += ".";
  for (const auto& [pkl, problem] : std::vector<std::pair<std::string, std::string>>{
           {deep, "nested deeper than 1000"},
           {expanding, "expands far beyond its size"},
           {"\x80\x02]q\x00h\x00" "a."s, "recursive"},
           {"\x80\x02\xff.", "unsupported pickle opcode 0xff"},
           {"\x80\x09N.", "unsupported pickle protocol 9"},
           {Pickle().global("os", "system").str("ls").op("\x85R").done(), "unsupported global 'os.system'"},
           {"\x80\x02(X\x05\x00\x00\x00"s, "truncated"},
           {"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", "truncated"},
           {"\x80\x02" "a.", "underflow"},
           {"\x80\x02h\x05.", "memo entry 5 missing"},
           {"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."s, "does not fit in 64 bits"},
           {"\x80\x02}]]s.", "unsupported dict key"},
       }) {
    auto message = load_error(archive(pkl, {}));
    EXPECT_TRUE(contains(message, problem)) << problem << ": " << message;
    EXPECT_TRUE(contains(message, "bad.pt")) << message;
  }
}

TEST(SerializationBadInput, UnsupportedValuesAreNamedOnSave) {
  TempDir dir;
  auto sparse = torch::eye(3).to_sparse();
  auto message = checkpoint_error([&] { torch_save(sparse, dir.file("s.pt")); });
  EXPECT_TRUE(contains(message, dir.file("s.pt")) && contains(message, "not dense")) << message;
  EXPECT_EQ(list_folder(dir.path()), std::vector<std::string>{});
}

// ---- atomic writes ----

TEST(SerializationAtomic, ReplacesAndLeavesNoTemporaryFiles) {
  TempDir dir;
  torch_save(int64_t{1}, dir.file("a.ckpt"));
  torch_save(int64_t{2}, dir.file("a.ckpt"));
  EXPECT_EQ(torch_load(dir.file("a.ckpt")).toInt(), 2);
  EXPECT_EQ(list_folder(dir.path()), std::vector<std::string>{"a.ckpt"});
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);  // a bare file name writes in the current folder
  torch_save(int64_t{3}, "b.ckpt");
  ASSERT_EQ(::chdir(cwd), 0);
  EXPECT_EQ(torch_load(dir.file("b.ckpt")).toInt(), 3);
}

TEST(SerializationAtomic, LeftoversOfKilledWritersAreRemovedAndNeverCollide) {
  TempDir dir;
  // A killed process's leftover with this process's PID (a restarted container gets the same
  // PID): the old naming's first name, and one of the current naming.
  const std::string pid = std::to_string(::getpid());
  const std::vector<std::string> dead = {".a.ckpt.tmp." + pid + ".0", ".a.ckpt.tmp." + pid + ".1",
                                         ".b.ckpt.tmp." + pid + ".5f3e2a11c0de0042"};
  for (const auto& name : dead) std::ofstream(dir.file(name)) << "torn";
  // A live writer's temporary file (it holds the lock) and files that only look alike.
  const std::string live = ".c.ckpt.tmp.4242.0123abcd";
  std::ofstream(dir.file(live)) << "being written";
  int live_fd = ::open(dir.file(live).c_str(), O_RDONLY);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);
  const std::vector<std::string> unrelated = {".hidden", "notes.tmp.1.txt", ".d.ckpt.tmp.x.1", "e.ckpt"};
  for (const auto& name : unrelated) std::ofstream(dir.file(name)) << "keep";

  auto d = str_dict();
  d.insert("step", int64_t{1});
  torch_save(d, dir.file("a.ckpt"));
  EXPECT_EQ(at(torch_load(dir.file("a.ckpt")), "step").toInt(), 1);
  for (const auto& name : dead) EXPECT_NE(::access(dir.file(name).c_str(), F_OK), 0) << name << " was left";
  EXPECT_EQ(::access(dir.file(live).c_str(), F_OK), 0) << "a live writer's file was removed";
  for (const auto& name : unrelated) EXPECT_EQ(::access(dir.file(name).c_str(), F_OK), 0) << name;
  // Later saves in this folder work and leave no temporary file of their own.
  torch_save(d, dir.file("a.ckpt"));
  for (const auto& name : list_folder(dir.path())) EXPECT_FALSE(contains(name, ".tmp." + pid)) << name;
  ::close(live_fd);
}

TEST(SerializationAtomic, MissingOrInvalidFolder) {
  TempDir dir;
  auto message = checkpoint_error([&] { torch_save(int64_t{1}, dir.file("no/such/folder/a.ckpt")); });
  EXPECT_TRUE(contains(message, dir.file("no/such/folder/a.ckpt")) && contains(message, "No such file")) << message;
  std::ofstream(dir.file("plain")) << "x";
  message = checkpoint_error([&] { torch_save(int64_t{1}, dir.file("plain/a.ckpt")); });
  EXPECT_TRUE(contains(message, "Not a directory")) << message;
  ::mkdir(dir.file("folder").c_str(), 0755);  // the target is a folder: rename fails, nothing left behind
  message = checkpoint_error([&] { torch_save(int64_t{1}, dir.file("folder")); });
  EXPECT_TRUE(contains(message, "Is a directory")) << message;
  EXPECT_EQ(list_folder(dir.path()), (std::vector<std::string>{"folder", "plain"}));
}

TEST(SerializationAtomic, UnwritableFolderKeepsPreviousFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores folder permissions (covered by the EFBIG test)";
  TempDir dir;
  torch_save(int64_t{1}, dir.file("a.ckpt"));
  ::chmod(dir.path().c_str(), 0555);
  auto message = checkpoint_error([&] { torch_save(int64_t{2}, dir.file("a.ckpt")); });
  ::chmod(dir.path().c_str(), 0755);
  EXPECT_TRUE(contains(message, dir.file("a.ckpt")) && contains(message, "Permission denied")) << message;
  EXPECT_EQ(torch_load(dir.file("a.ckpt")).toInt(), 1);
}

// A write that fails half-way (here EFBIG from RLIMIT_FSIZE, standing in for ENOSPC/EIO) must
// leave the previous file intact and no temporary file behind.
TEST(SerializationAtomic, FailedWriteKeepsPreviousFile) {
  TempDir dir;
  const auto path = dir.file("a.ckpt");
  torch_save(torch::full({16}, 1.0), path);
  auto big = torch::full({1 << 20}, 2.0);  // 4 MiB, over the limit below
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      torch_save(big, path);
    } catch (const CheckpointError& e) {
      std::string m = e.what();
      ::_exit(contains(m, path) && contains(m, std::strerror(EFBIG)) ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: message lacks path or cause, 3: other exception";
  EXPECT_TRUE(same(torch_load(path).toTensor(), torch::full({16}, 1.0)));
  EXPECT_EQ(list_folder(dir.path()), std::vector<std::string>{"a.ckpt"});
}

// Acceptance: a child saving in a loop is killed with SIGKILL at random moments; every
// checkpoint file that exists afterwards loads, with consistent content.
TEST(SerializationAtomic, SigkillWhileSavingLeavesLoadableFiles) {
  TempDir dir;
  const std::vector<std::string> names = {"a.ckpt", "b.ckpt", "c.ckpt"};
  // Made before forking: the child only serialises (no LibTorch thread pools after fork).
  std::vector<c10::IValue> versions;
  for (int64_t value = 1; value <= 3; ++value) {
    auto d = str_dict();
    d.insert("value", value);
    d.insert("weights", torch::full({1 << 20}, static_cast<double>(value)));  // 4 MiB
    versions.emplace_back(d);
  }
  std::mt19937 rng(20261126);
  int killed = 0, loaded = 0;
  const int trials = 60;
  for (int trial = 0; trial < trials; ++trial) {
    // The random moment counts from the child's first finished save, so that a loaded machine,
    // where a save can take longer than the whole delay, still kills it while it saves.
    int saved[2];
    ASSERT_EQ(::pipe(saved), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(saved[0]);
      for (size_t i = trial;; ++i) {
        torch_save(versions[i % 3], dir.file(names[(i / 3 + i) % 3]));
        if (saved[1] >= 0 && ::write(saved[1], "s", 1) == 1) ::close(std::exchange(saved[1], -1));
      }
    }
    ::close(saved[1]);
    pollfd first{saved[0], POLLIN, 0};
    const bool started = ::poll(&first, 1, 30000) == 1;
    ::close(saved[0]);
    if (started) ::usleep(rng() % 50000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(started) << "the child saved nothing in 30 s";
    killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    for (const auto& name : names) {
      if (::access(dir.file(name).c_str(), F_OK) != 0) continue;
      auto v = torch_load(dir.file(name));  // throws (fails the test) on a torn file
      auto value = at(v, "value").toInt();
      ASSERT_TRUE(at(v, "weights").toTensor().eq(static_cast<double>(value)).all().item<bool>()) << name;
      ++loaded;
    }
  }
  EXPECT_EQ(killed, trials);
  EXPECT_GT(loaded, trials);
  for (const auto& name : list_folder(dir.path())) {
    bool checkpoint = std::find(names.begin(), names.end(), name) != names.end();
    bool temporary = name[0] == '.' && contains(name, ".ckpt.tmp.");
    EXPECT_TRUE(checkpoint || temporary) << name;
  }
}

}  // namespace
