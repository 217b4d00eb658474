// TensorBoardLogger and SummaryWriter: the event files are read back with an independent decoder
// (tests/loggers/event_file_reader.h), CRC32C is checked against the standard test vectors.
#include <gtest/gtest.h>

#include <lightning/loggers/tensorboard.h>
#include <lightning/utilities/errors.h>

#include "helpers/python.h"
#include "helpers/temp_dir.h"
#include "loggers/crc32c.h"
#include "loggers/event_file_reader.h"
#include "tensorboard.pb.h"

#include <torch/types.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <regex>
#include <thread>

namespace L = lightning;
using L::loggers::SummaryWriter;
using L::loggers::TensorBoardLogger;
using L::loggers::TensorBoardLoggerOptions;
using L::testing::DecodedEvent;
using L::testing::Message;
using L::testing::TempDir;

namespace {

std::string only_event_file(const std::string& dir) {
  auto files = L::testing::list_dir(dir, "events.out.tfevents.");
  if (files.size() != 1) throw std::runtime_error("expected one event file in " + dir);
  return dir + "/" + files.front();
}

/// Every (tag, value, step) scalar in the events.
std::vector<std::tuple<std::string, float, int64_t>> scalars(const std::vector<DecodedEvent>& events) {
  std::vector<std::tuple<std::string, float, int64_t>> out;
  for (const auto& e : events)
    for (const auto& v : e.values)
      if (v.has(2)) out.emplace_back(v.string(1), v.float32(2), e.step);
  return out;
}

const Message* find_value(const std::vector<DecodedEvent>& events, const std::string& tag, Message& storage) {
  for (const auto& e : events)
    for (const auto& v : e.values)
      if (v.string(1) == tag) {
        storage = v;
        return &storage;
      }
  return nullptr;
}

/// {"depth": 3, "act": "relu"}: a nested hyperparameter dict.
c10::impl::GenericDict model_hparams() {
  c10::impl::GenericDict nested(c10::StringType::get(), c10::AnyType::get());
  nested.insert("depth", int64_t{3});
  nested.insert("act", std::string("relu"));
  return nested;
}

/// A histogram of 0..9 in 3 buckets at step 5, an 8x5 red RGB image and a 4x7 gray one at step 6,
/// and markdown text at step 7.
void add_histogram_images_and_text(SummaryWriter& writer) {
  writer.add_histogram("weights", torch::arange(10, torch::kFloat), 5, 3);
  auto image = torch::zeros({3, 8, 5});
  image[0].fill_(1.0);  // red
  writer.add_image("picture", image, 6);
  writer.add_image("gray", torch::full({4, 7}, 128, torch::kUInt8), 6, "HW");
  writer.add_text("notes", "hello **world**", 7);
}

}  // namespace

TEST(Crc32c, StandardTestVectors) {
  const std::string digits = "123456789";
  const std::string zeros(32, '\0'), ones(32, '\xff');
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i)), descending.push_back(static_cast<char>(31 - i));
  for (auto crc : {&L::detail::crc32c, &L::detail::crc32c_portable, &L::testing::reference_crc32c}) {
    EXPECT_EQ(crc(digits.data(), digits.size()), 0xE3069283u);
    EXPECT_EQ(crc(zeros.data(), zeros.size()), 0x8A9136AAu);
    EXPECT_EQ(crc(ones.data(), ones.size()), 0x62A8AB43u);
    EXPECT_EQ(crc(ascending.data(), ascending.size()), 0x46DD794Eu);
    EXPECT_EQ(crc(descending.data(), descending.size()), 0x113FDB5Cu);
    EXPECT_EQ(crc("", 0), 0u);
  }
  EXPECT_EQ(L::detail::masked_crc32c(digits.data(), digits.size()),
            L::testing::reference_masked_crc32c(digits.data(), digits.size()));
  // Every length and alignment through the 8-byte steps and the byte tail.
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>((i * 7919 + 13) & 0xFF));
  for (size_t start = 0; start < 8; ++start)
    for (size_t n = 0; start + n <= bytes.size(); ++n)
      for (auto crc : {&L::detail::crc32c, &L::detail::crc32c_portable})
        ASSERT_EQ(crc(bytes.data() + start, n), L::testing::reference_crc32c(bytes.data() + start, n))
            << "start " << start << " length " << n;
}

TEST(TensorBoardLogger, EventFileNameAndFirstRecord) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str());
  logger.log_metrics({{"loss", 0.5}}, 0);
  logger.finalize("success");
  const std::string dir = tmp.str() + "/lightning_logs/version_0";
  EXPECT_EQ(*logger.log_dir(), dir);
  auto files = L::testing::list_dir(dir, "events.out.tfevents.");
  ASSERT_EQ(files.size(), 1u);
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  const std::regex pattern("events\\.out\\.tfevents\\.\\d{10}\\." + std::regex_replace(host, std::regex("\\."), "\\.") +
                           "\\." + std::to_string(::getpid()) + "\\.\\d+");
  EXPECT_TRUE(std::regex_match(files.front(), pattern)) << files.front();
  auto events = L::testing::read_events(dir + "/" + files.front());
  ASSERT_GE(events.size(), 2u);
  ASSERT_TRUE(events.front().file_version.has_value());
  EXPECT_EQ(*events.front().file_version, "brain.Event:2");
  EXPECT_GT(events.front().wall_time, 1.6e9);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_FALSE(events[i].file_version.has_value());
}

TEST(TensorBoardLogger, ScalarsWithTagsStepsAndNonFiniteValues) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str(), TensorBoardLoggerOptions{.name = "exp", .prefix = "train"});
  logger.log_metrics({{"loss", 0.25}, {"acc", 0.75}}, 3);
  logger.log_metrics({{"loss", std::nan("")}, {"acc", INFINITY}, {"neg", -INFINITY}}, 7);
  logger.finalize("success");
  auto s = scalars(L::testing::read_events(only_event_file(tmp.str() + "/exp/version_0")));
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0], std::make_tuple(std::string("train-acc"), 0.75f, int64_t{3}));
  EXPECT_EQ(s[1], std::make_tuple(std::string("train-loss"), 0.25f, int64_t{3}));
  EXPECT_EQ(std::get<0>(s[2]), "train-acc");
  EXPECT_TRUE(std::isinf(std::get<1>(s[2])) && std::get<1>(s[2]) > 0);
  EXPECT_TRUE(std::isnan(std::get<1>(s[3])));
  EXPECT_TRUE(std::isinf(std::get<1>(s[4])) && std::get<1>(s[4]) < 0);
  EXPECT_EQ(std::get<2>(s[4]), 7);
}

// Scalar events are encoded by hand; protobuf's own serializer must write the same bytes.
TEST(SummaryWriter, ScalarEventsAreProtobufsOwnEncoding) {
  TempDir tmp;
  const std::string long_tag(200, 'x');  // a two-byte length
  {
    SummaryWriter writer(tmp.str());
    writer.add_scalar("loss", 0.5, 3, 1700000000.25);
    writer.add_scalar(long_tag, -0.0, 0, 0.0);  // zero step and wall time are left out
    writer.add_scalar("", std::nan(""), -5, 1.0);
    writer.add_scalar("big_step", INFINITY, int64_t{1} << 40, 2.5);
    writer.add_scalar("tiny", 1e-45, 1, 3.0);
  }
  const auto records = L::testing::read_records(L::testing::read_file(only_event_file(tmp.str())));
  ASSERT_EQ(records.size(), 6u);  // file_version first
  for (size_t i = 1; i < records.size(); ++i) {
    lightning::tensorboard_proto::Event event;
    ASSERT_TRUE(event.ParseFromString(records[i])) << "record " << i;
    EXPECT_EQ(event.SerializeAsString(), records[i]) << "record " << i;
  }
  auto events = L::testing::read_events(only_event_file(tmp.str()));
  EXPECT_EQ(events[2].values.at(0).string(1), long_tag);
  EXPECT_EQ(events[3].step, -5);
  EXPECT_EQ(events[4].step, int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(events[1].wall_time, 1700000000.25);
}

TEST(TensorBoardLogger, HyperparametersThroughTheHparamsPlugin) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str());
  logger.log_hyperparams({{"lr", 0.01}, {"optimizer", std::string("adam")}, {"model", model_hparams()},
                          {"layers", c10::List<int64_t>({32, 64})}, {"shuffle", true}});
  logger.save();
  logger.finalize("success");
  const std::string dir = tmp.str() + "/lightning_logs/version_0";
  auto events = L::testing::read_events(only_event_file(dir));

  // hp_metric = -1 at step 0, as Lightning's default_hp_metric writes it.
  auto s = scalars(events);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], std::make_tuple(std::string("hp_metric"), -1.0f, int64_t{0}));

  auto plugin_content = [&](const std::string& tag) {
    Message v;
    if (!find_value(events, tag, v)) throw std::runtime_error("no value tagged " + tag);
    Message plugin = v.message(9).message(1);  // Value.metadata -> SummaryMetadata.plugin_data
    EXPECT_EQ(plugin.string(1), "hparams");
    return Message::parse(plugin.string(2));  // HParamsPluginData
  };
  // Experiment (field 2): hparam_infos (4) with names (1) and types (4), metric_infos (5).
  Message experiment = plugin_content("_hparams_/experiment");
  EXPECT_EQ(experiment.integer(1), 0);  // plugin data version 0
  Message exp = experiment.message(2);
  std::map<std::string, int64_t> types;
  for (const auto* f : exp.all(4)) {
    Message info = Message::parse(f->bytes);
    types[info.string(1)] = info.integer(4);
  }
  EXPECT_EQ(types.at("lr"), 3);             // DATA_TYPE_FLOAT64
  EXPECT_EQ(types.at("optimizer"), 1);      // DATA_TYPE_STRING
  EXPECT_EQ(types.at("model/depth"), 3);    // nested dicts are flattened with "/"
  EXPECT_EQ(types.at("model/act"), 1);
  EXPECT_EQ(types.at("layers"), 1);         // lists become their Python str
  EXPECT_EQ(types.at("shuffle"), 3);        // torch checks int/float first: bools are numbers
  ASSERT_EQ(exp.all(5).size(), 1u);
  EXPECT_EQ(Message::parse(exp.all(5)[0]->bytes).message(1).string(2), "hp_metric");

  // SessionStartInfo (field 3): map<string, google.protobuf.Value> hparams (1).
  Message start = plugin_content("_hparams_/session_start_info").message(3);
  std::map<std::string, Message> hparams;
  for (const auto* f : start.all(1)) {
    Message entry = Message::parse(f->bytes);
    hparams[entry.string(1)] = entry.message(2);
  }
  EXPECT_DOUBLE_EQ(hparams.at("lr").float64(2), 0.01);  // Value.number_value
  EXPECT_EQ(hparams.at("optimizer").string(3), "adam");  // Value.string_value
  EXPECT_DOUBLE_EQ(hparams.at("model/depth").float64(2), 3.0);
  EXPECT_EQ(hparams.at("layers").string(3), "[32, 64]");
  EXPECT_DOUBLE_EQ(hparams.at("shuffle").float64(2), 1.0);

  // SessionEndInfo (field 4): status (1) = STATUS_SUCCESS.
  EXPECT_EQ(plugin_content("_hparams_/session_end_info").message(4).integer(1), 1);

  // hparams.yaml keeps the nesting, keys sorted, as yaml.dump writes it.
  const std::string yaml = L::testing::read_file(dir + "/hparams.yaml");
  EXPECT_EQ(yaml,
            "layers:\n  - 32\n  - 64\nlr: 0.01\nmodel:\n  act: relu\n  depth: 3\noptimizer: adam\nshuffle: true\n");
}

TEST(TensorBoardLogger, NoHpMetricWhenDisabled) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str(), TensorBoardLoggerOptions{.default_hp_metric = false});
  logger.log_hyperparams({{"lr", 0.1}});
  logger.save();
  logger.finalize("success");
  const std::string dir = tmp.str() + "/lightning_logs/version_0";
  auto events = L::testing::read_events(only_event_file(dir));
  EXPECT_EQ(events.size(), 1u);  // only file_version
  EXPECT_EQ(L::testing::read_file(dir + "/hparams.yaml"), "lr: 0.1\n");
}

TEST(TensorBoardLogger, ExplicitMetricsReplaceHpMetric) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str());
  logger.log_hyperparams({{"lr", 0.1}}, {{"val_acc", 0.5}});
  logger.finalize("success");
  auto events = L::testing::read_events(only_event_file(tmp.str() + "/lightning_logs/version_0"));
  auto s = scalars(events);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(std::get<0>(s[0]), "val_acc");
}

TEST(SummaryWriter, HistogramImageAndText) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str());
  auto& writer = logger.experiment();
  add_histogram_images_and_text(writer);
  writer.flush();
  auto events = L::testing::read_events(writer.file_path());

  Message v;
  ASSERT_TRUE(find_value(events, "weights", v));
  Message histo = v.message(5);  // HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5, limits 6, buckets 7
  EXPECT_DOUBLE_EQ(histo.float64(1), 0.0);
  EXPECT_DOUBLE_EQ(histo.float64(2), 9.0);
  EXPECT_DOUBLE_EQ(histo.float64(3), 10.0);
  EXPECT_DOUBLE_EQ(histo.float64(4), 45.0);
  EXPECT_DOUBLE_EQ(histo.float64(5), 285.0);
  EXPECT_EQ(histo.packed_doubles(6), (std::vector<double>{3.0, 6.0, 9.0}));
  EXPECT_EQ(histo.packed_doubles(7), (std::vector<double>{3.0, 3.0, 4.0}));

  ASSERT_TRUE(find_value(events, "picture", v));
  Message img = v.message(4);  // Image: height 1, width 2, colorspace 3, encoded 4
  EXPECT_EQ(img.integer(1), 8);
  EXPECT_EQ(img.integer(2), 5);
  EXPECT_EQ(img.integer(3), 3);
  const std::string png = img.string(4);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  auto be32 = [&](size_t pos) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(png[pos])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[pos + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[pos + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(png[pos + 3]));
  };
  EXPECT_EQ(be32(16), 5u);  // width
  EXPECT_EQ(be32(20), 8u);  // height
  EXPECT_EQ(png[25], 2);    // colour type RGB

  ASSERT_TRUE(find_value(events, "gray", v));
  EXPECT_EQ(v.message(4).integer(3), 1);
  EXPECT_EQ(v.message(4).string(4)[25], 0);  // colour type grayscale

  ASSERT_TRUE(find_value(events, "notes/text_summary", v));
  EXPECT_EQ(v.message(9).message(1).string(1), "text");
  Message tensor = v.message(8);  // TensorProto: dtype 1, shape 2, string_val 8
  EXPECT_EQ(tensor.integer(1), 7);  // DT_STRING
  EXPECT_EQ(tensor.string(8), "hello **world**");
  EXPECT_EQ(tensor.message(2).message(2).integer(1), 1);  // shape [1]
  for (const auto& e : events)
    if (!e.values.empty() && e.values.front().string(1) == "notes/text_summary") EXPECT_EQ(e.step, 7);
  logger.finalize("success");
}

TEST(SummaryWriter, WritesAfterMaxQueueEventsWithoutFlush) {
  TempDir tmp;
  SummaryWriter writer(tmp.str() + "/run", {.flush_secs = 3600, .max_queue = 3});
  const auto initial = L::testing::read_file(writer.file_path()).size();
  EXPECT_GT(initial, 0u);  // the file_version record is written at once
  writer.add_scalar("a", 1.0, 0);
  writer.add_scalar("a", 2.0, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(L::testing::read_file(writer.file_path()).size(), initial);  // below max_queue: still queued
  writer.add_scalar("a", 3.0, 2);
  bool written = false;
  for (int i = 0; i < 200 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    written = L::testing::read_events(writer.file_path()).size() == 4;
  }
  EXPECT_TRUE(written);
}

// The writer thread is named, so that top, perf and gdb tell it from the training thread.
TEST(SummaryWriter, WriterThreadIsNamed) {
  TempDir tmp;
  SummaryWriter writer(tmp.str());
  writer.add_scalar("x", 1.0, 0);
  writer.flush();  // the thread has run (and named itself) by now
  int named = 0;
  for (const auto& task : L::testing::list_dir("/proc/self/task"))
    if (L::testing::read_file("/proc/self/task/" + task + "/comm") == "logger-writer\n") ++named;
  EXPECT_EQ(named, 1);
}

TEST(SummaryWriter, FlushSecsWritesPendingEvents) {
  TempDir tmp;
  SummaryWriter writer(tmp.str(), {.flush_secs = 0.05, .max_queue = 1000});
  writer.add_scalar("a", 1.0, 0);
  bool written = false;
  for (int i = 0; i < 300 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    written = L::testing::read_events(writer.file_path()).size() == 2;
  }
  EXPECT_TRUE(written);
  writer.close();
  EXPECT_THROW(writer.add_scalar("a", 2.0, 1), std::logic_error);
}

TEST(SummaryWriter, BadImageArgumentsAreClearErrors) {
  TempDir tmp;
  SummaryWriter writer(tmp.str());
  try {
    writer.add_image("img", torch::zeros({2, 4, 4}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(writer.add_image("img", torch::zeros({4, 4}), 0, "CHW"), c10::Error);
}

TEST(TensorBoardLogger, SubDirAndStringVersion) {
  TempDir tmp;
  TensorBoardLogger logger(tmp.str(), TensorBoardLoggerOptions{.version = "run_a", .sub_dir = "train"});
  EXPECT_EQ(logger.version(), "run_a");
  EXPECT_EQ(*logger.root_dir(), tmp.str() + "/lightning_logs");
  EXPECT_EQ(*logger.log_dir(), tmp.str() + "/lightning_logs/run_a/train");
  EXPECT_EQ(*logger.save_dir(), tmp.str());
  logger.log_metrics({{"x", 1.0}}, 0);
  logger.finalize("success");
  EXPECT_EQ(L::testing::list_dir(tmp.str() + "/lightning_logs/run_a/train", "events.out.tfevents.").size(), 1u);
}

TEST(TensorBoardLogger, UnwritableSaveDirIsAClearError) {
  TempDir tmp;
  { std::ofstream(tmp.file("a_file")) << "x"; }
  const std::string bad = tmp.file("a_file") + "/logs";
  TensorBoardLogger logger(bad);
  try {
    logger.log_metrics({{"x", 1.0}}, 0);
    FAIL() << "expected MisconfigurationException";
  } catch (const L::MisconfigurationException& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.file("a_file")), std::string::npos) << e.what();
  }
}

// TensorBoard's own reading code, where the interpreter has it (Debian has no tensorboard; the
// device's PyTorch does): the legacy EventAccumulator and the plugin accumulator that the server
// uses read every kind of event we write, with TensorBoard's own CRC over every record.
constexpr const char* kReadWithTensorBoard = R"(
import glob, io, math, os, struct, sys
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hp
from tensorboard.util import tensor_util

run = sys.argv[1]
failures = []
def check(ok, what):
    if not ok: failures.append(what)

(path,) = glob.glob(os.path.join(run, "events.out.tfevents.*"))
data = open(path, "rb").read()
pos = records = 0
while pos + 12 <= len(data):
    (length,) = struct.unpack("<Q", data[pos:pos + 8])
    (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
    body = data[pos + 12:pos + 12 + length]
    (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
    check(masked_crc32c(data[pos:pos + 8]) == length_crc, "length CRC of record %d" % records)
    check(masked_crc32c(body) == body_crc, "data CRC of record %d" % records)
    pos += 16 + length
    records += 1
check(pos == len(data), "the file ends inside a record")

acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0})
acc.Reload()
check(acc.file_version == 2.0, "file_version %r" % acc.file_version)
loss = [(e.step, e.value) for e in acc.Scalars("loss")]
check([s for s, _ in loss] == [0, 1, 2, 3, 4], "loss steps %r" % loss)
check(all(abs(v - 1.0 / (s + 1)) < 1e-6 for s, v in loss), "loss values %r" % loss)
odd = [e.value for e in acc.Scalars("odd")]
check(len(odd) == 3 and math.isnan(odd[0]) and odd[1] == math.inf and odd[2] == -math.inf, "odd %r" % odd)
check([(e.step, e.value) for e in acc.Scalars("hp_metric")] == [(0, -1.0)], "hp_metric")

h = acc.Histograms("weights")[0]
hv = h.histogram_value
check(h.step == 5 and (hv.min, hv.max, hv.num, hv.sum, hv.sum_squares) == (0, 9, 10, 45, 285), "histogram %r" % (hv,))
check(list(hv.bucket_limit) == [3, 6, 9] and list(hv.bucket) == [3, 3, 4], "histogram buckets %r" % (hv,))

from PIL import Image
picture = acc.Images("picture")[0]
check((picture.step, picture.width, picture.height) == (6, 5, 8), "picture %r" % ((picture.step, picture.width, picture.height),))
im = Image.open(io.BytesIO(picture.encoded_image_string))
check(im.size == (5, 8) and im.mode == "RGB" and im.getpixel((0, 0)) == (255, 0, 0), "picture PNG %r" % ((im.size, im.mode),))
gray = Image.open(io.BytesIO(acc.Images("gray")[0].encoded_image_string))
check(gray.mode == "L" and gray.size == (7, 4) and gray.getpixel((3, 2)) == 128, "gray PNG %r" % ((gray.size, gray.mode),))

text = acc.Tensors("notes/text_summary")[0]
check(text.step == 7, "text step %d" % text.step)
check(tensor_util.make_ndarray(text.tensor_proto).tolist() == [b"hello **world**"], "text value")
check(acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text", "text plugin")

content = acc.PluginTagToContent("hparams")
experiment = hp.parse_experiment_plugin_data(content[hp.EXPERIMENT_TAG])
types = {i.name: i.type for i in experiment.hparam_infos}
check(types == {"lr": api_pb2.DATA_TYPE_FLOAT64, "optimizer": api_pb2.DATA_TYPE_STRING,
                "model/depth": api_pb2.DATA_TYPE_FLOAT64, "model/act": api_pb2.DATA_TYPE_STRING},
      "hparam types %r" % types)
check([m.name.tag for m in experiment.metric_infos] == ["hp_metric"], "metric infos")
start = hp.parse_session_start_info_plugin_data(content[hp.SESSION_START_INFO_TAG])
check(start.hparams["lr"].number_value == 0.01 and start.hparams["optimizer"].string_value == "adam"
      and start.hparams["model/depth"].number_value == 3, "session start %r" % start)
end = hp.parse_session_end_info_plugin_data(content[hp.SESSION_END_INFO_TAG])
check(end.status == api_pb2.STATUS_SUCCESS, "session end %r" % end)

served = pea.EventAccumulator(run, size_guidance={pea.TENSORS: 0})
served.Reload()
plugins = {tag: served.SummaryMetadata(tag).plugin_data.plugin_name for tag in served.Tags()["tensors"]}
expected = {"loss": "scalars", "epoch": "scalars", "odd": "scalars", "hp_metric": "scalars",
            "weights": "histograms", "picture": "images", "gray": "images", "notes/text_summary": "text"}
check(all(plugins.get(t) == p for t, p in expected.items()), "plugins %r" % plugins)
check(set(served.PluginTagToContent("hparams")) ==
      {hp.EXPERIMENT_TAG, hp.SESSION_START_INFO_TAG, hp.SESSION_END_INFO_TAG}, "served hparams tags")
check(len(served.Tensors("loss")) == 5, "served loss events")

print("\n".join(failures) if failures else "read %d records" % records)
sys.exit(1 if failures else 0)
)";

TEST(TensorBoardLogger, TensorBoardItselfReadsEveryKindOfEvent) {
  if (!L::testing::python_module_available("tensorboard"))
    GTEST_SKIP() << L::testing::python() << " has no tensorboard (set LIGHTNING_TEST_PYTHON)";
  TempDir tmp;
  {
    TensorBoardLogger logger(tmp.str());
    logger.log_hyperparams({{"lr", 0.01}, {"optimizer", std::string("adam")}, {"model", model_hparams()}});
    for (int64_t step = 0; step < 5; ++step) logger.log_metrics({{"loss", 1.0 / (step + 1)}, {"epoch", 0}}, step);
    logger.log_metrics({{"odd", std::nan("")}}, 5);
    logger.log_metrics({{"odd", INFINITY}}, 6);
    logger.log_metrics({{"odd", -INFINITY}}, 7);
    add_histogram_images_and_text(logger.experiment());
    logger.finalize("success");
  }
  auto result = L::testing::run_python(kReadWithTensorBoard, tmp.file("read.py"),
                                       tmp.str() + "/lightning_logs/version_0");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("read "), std::string::npos) << result.output;
}
