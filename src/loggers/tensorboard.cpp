#include "lightning/loggers/tensorboard.h"

#include "lightning/utilities/errors.h"
#include "loggers/crc32c.h"
#include "loggers/key_table.h"
#include "loggers/logger_files.h"
#include "loggers/png.h"
#include "loggers/writer_thread.h"

#include "tensorboard.pb.h"

#include <unistd.h>

#include <ATen/Functions.h>
#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <algorithm>
#include <vector>

namespace lightning::loggers {

namespace pb = lightning::tensorboard_proto;

namespace {

std::atomic<int64_t> g_event_file_uid{0};

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

/// Writes the low `bytes` bytes of `bits` little-endian; returns the end.
char* put_le(char* p, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) *p++ = static_cast<char>((bits >> (8 * i)) & 0xFF);
  return p;
}

char* put_varint(char* p, uint64_t v) {
  for (; v >= 0x80; v >>= 7) *p++ = static_cast<char>((v & 0x7F) | 0x80);
  *p++ = static_cast<char>(v);
  return p;
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

/// Appends one record in TensorBoard's framing: uint64 length, masked CRC32C of the length,
/// the data (`size` bytes, written in place by `write`), masked CRC32C of the data, all
/// little-endian.
template <typename Write>
void append_record(std::string& out, size_t size, Write&& write) {
  const size_t start = out.size();
  out.resize(start + 12 + size + 4);
  char* p = out.data() + start;
  put_le(p, size, 8);
  put_le(p + 8, detail::masked_crc32c(p, 8), 4);
  write(p + 12);
  put_le(p + 12 + size, detail::masked_crc32c(p + 12, size), 4);
}

void append_record(std::string& out, const std::string& data) {
  append_record(out, data.size(), [&](char* p) { std::memcpy(p, data.data(), data.size()); });
}

/// A scalar's Event{wall_time = 1, step = 2, summary = 5 {value = 1 {tag = 1, simple_value = 2}}}
/// as a record, laid out as protobuf's serializer lays it out (fields in number order, proto3
/// zero values left out) at a fraction of its cost: scalars are most of what is logged.
void append_scalar_record(std::string& out, double wall_time, int64_t step, const std::string& tag, float value) {
  uint64_t wall_bits;
  std::memcpy(&wall_bits, &wall_time, sizeof wall_bits);
  uint32_t value_bits;
  std::memcpy(&value_bits, &value, sizeof value_bits);
  const auto step_bits = static_cast<uint64_t>(step);
  const size_t value_size = (tag.empty() ? 0 : 1 + varint_size(tag.size()) + tag.size()) + 5;
  const size_t summary_size = 1 + varint_size(value_size) + value_size;
  const size_t size = (wall_bits ? 9 : 0) + (step_bits ? 1 + varint_size(step_bits) : 0) + 1 +
                      varint_size(summary_size) + summary_size;
  append_record(out, size, [&](char* p) {
    if (wall_bits) p = put_le(put_varint(p, 0x09), wall_bits, 8);    // field 1, fixed64
    if (step_bits) p = put_varint(put_varint(p, 0x10), step_bits);  // field 2, varint
    p = put_varint(put_varint(p, 0x2A), summary_size);               // field 5, length-delimited
    p = put_varint(put_varint(p, 0x0A), value_size);                 // Summary.value (1)
    if (!tag.empty()) {
      p = put_varint(put_varint(p, 0x0A), tag.size());  // Value.tag (1)
      p = std::copy(tag.begin(), tag.end(), p);
    }
    put_le(put_varint(p, 0x15), value_bits, 4);  // Value.simple_value (2), fixed32
  });
}

std::string encode_event(double wall_time, int64_t step, pb::Summary summary) {
  pb::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  *event.mutable_summary() = std::move(summary);
  return event.SerializeAsString();
}

}  // namespace

// --- SummaryWriter ---------------------------------------------------------------------------

struct SummaryWriter::Impl {
  struct Scalar {
    uint32_t tag;  // in `tags`
    double value;
    int64_t step;
    double wall_time;
  };
  std::string log_dir, path;
  SummaryWriterOptions options;
  std::FILE* file = nullptr;
  // Pending events, filled by add_* on the caller's thread, written by the writer thread.
  std::mutex mutex;
  detail::KeyTable tags;
  std::vector<Scalar> scalars;       // encoded on the writer thread (the cheap, frequent kind)
  std::vector<std::string> encoded;  // already encoded events
  // Order between the two kinds: scalars queued before each encoded event.
  std::vector<size_t> scalars_before_encoded;
  size_t pending = 0;
  bool closed = false;
  std::unique_ptr<detail::WriterThread> writer;

  // Owned by the writer thread: swapped with the queues so that their capacity is reused.
  std::vector<Scalar> spare_scalars;
  std::vector<std::string> tag_names;  // `tags`' names, copied under `mutex`
  std::string out;

  /// Writes `out` to the file once it holds a good chunk, so memory stays bounded.
  void write_out(bool force) {
    if (out.empty() || (!force && out.size() < (1u << 16))) return;
    if (file && std::fwrite(out.data(), 1, out.size(), file) != out.size())
      throw std::runtime_error(fmt::format("SummaryWriter: cannot write '{}': {}", path, std::strerror(errno)));
    out.clear();
  }

  void drain() {
    std::vector<Scalar>& s = spare_scalars;
    s.clear();
    std::vector<std::string> e;
    std::vector<size_t> order;
    {
      std::lock_guard lock(mutex);
      s.swap(scalars);
      e.swap(encoded);
      order.swap(scalars_before_encoded);
      tags.copy_new_names(tag_names);
      pending = 0;
    }
    size_t next_scalar = 0;
    auto write_scalars_until = [&](size_t end) {
      for (; next_scalar < end; ++next_scalar) {
        const auto& x = s[next_scalar];
        append_scalar_record(out, x.wall_time, x.step, tag_names[x.tag], static_cast<float>(x.value));
        write_out(false);
      }
    };
    for (size_t i = 0; i < e.size(); ++i) {
      write_scalars_until(order[i]);
      append_record(out, e[i]);
      write_out(false);
    }
    write_scalars_until(s.size());
    write_out(true);
    if (!file) return;
    if (std::fflush(file) != 0)
      throw std::runtime_error(fmt::format("SummaryWriter: cannot flush '{}': {}", path, std::strerror(errno)));
  }

  void check_open(const char* what) const {
    if (closed) throw std::logic_error(fmt::format("SummaryWriter::{}: the writer for '{}' is closed", what, path));
  }

  /// Called with `mutex` held after queueing one event.
  bool queue_full() { return ++pending >= static_cast<size_t>(std::max<int64_t>(options.max_queue, 1)); }

  /// Queues an Event holding one Summary.Value tagged `tag`, filled by `fill`.
  template <typename Fill>
  void add_value(const std::string& tag, int64_t step, std::optional<double> walltime, Fill&& fill) {
    pb::Summary summary;
    auto* value = summary.add_value();
    value->set_tag(tag);
    fill(*value);
    add_encoded(encode_event(walltime ? *walltime : detail::wall_time_now(), step, std::move(summary)));
  }

  void add_encoded(std::string event) {
    bool full;
    {
      std::lock_guard lock(mutex);
      check_open("add");
      scalars_before_encoded.push_back(scalars.size());
      encoded.push_back(std::move(event));
      full = queue_full();
    }
    if (full) writer->wake();
  }
};

SummaryWriter::SummaryWriter(std::string log_dir, SummaryWriterOptions options) : impl_(std::make_unique<Impl>()) {
  detail::make_dirs(log_dir, "SummaryWriter");
  impl_->log_dir = log_dir;
  impl_->options = std::move(options);
  const double now = detail::wall_time_now();
  impl_->path = detail::join_path(
      log_dir, fmt::format("events.out.tfevents.{:010d}.{}.{}.{}{}", static_cast<int64_t>(now), host_name(),
                           static_cast<long>(::getpid()), g_event_file_uid.fetch_add(1), impl_->options.filename_suffix));
  impl_->file = std::fopen(impl_->path.c_str(), "wb");
  if (!impl_->file)
    throw MisconfigurationException(fmt::format("SummaryWriter: cannot create the event file '{}': {}", impl_->path,
                                                std::strerror(errno)));
  // The first record names the format, written at once as TensorBoard's EventFileWriter does.
  pb::Event first;
  first.set_wall_time(now);
  first.set_file_version("brain.Event:2");
  std::string record;
  append_record(record, first.SerializeAsString());
  std::fwrite(record.data(), 1, record.size(), impl_->file);
  std::fflush(impl_->file);
  auto* impl = impl_.get();
  impl_->writer = std::make_unique<detail::WriterThread>([impl] { impl->drain(); },
                                                         std::chrono::duration<double>(impl_->options.flush_secs));
}

SummaryWriter::~SummaryWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << e.what() << std::endl;
  }
}

const std::string& SummaryWriter::log_dir() const { return impl_->log_dir; }
const std::string& SummaryWriter::file_path() const { return impl_->path; }

void SummaryWriter::add_scalars(const std::map<std::string, double>& metrics, const std::string& prefix,
                                int64_t step, double walltime) {
  bool full;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->check_open("add_scalar");
    const auto& ids = impl_->tags.ids(metrics, prefix);
    auto id = ids.begin();
    for (const auto& entry : metrics) impl_->scalars.push_back({*id++, entry.second, step, walltime});
    impl_->pending += metrics.size();
    full = impl_->pending >= static_cast<size_t>(impl_->options.max_queue);
  }
  if (full) impl_->writer->wake();
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step, std::optional<double> walltime) {
  bool full;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->check_open("add_scalar");
    impl_->scalars.push_back({impl_->tags.id(tag), value, step, walltime ? *walltime : detail::wall_time_now()});
    full = impl_->queue_full();
  }
  if (full) impl_->writer->wake();
}

void SummaryWriter::add_histogram(const std::string& tag, const at::Tensor& values, int64_t step, int64_t bins,
                                  std::optional<double> walltime) {
  TORCH_CHECK(values.defined() && values.numel() > 0, "add_histogram('", tag, "'): values must be a non-empty tensor");
  TORCH_CHECK(bins >= 1, "add_histogram('", tag, "'): bins must be >= 1, got ", bins);
  auto flat = values.detach().to(at::kCPU).to(at::kDouble).contiguous().view(-1);
  const double* p = flat.data_ptr<double>();
  const int64_t n = flat.numel();
  double lo = p[0], hi = p[0], sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
    sum += p[i];
    sum_sq += p[i] * p[i];
  }
  std::vector<double> counts(static_cast<size_t>(bins), 0.0);
  const double width = hi > lo ? (hi - lo) / static_cast<double>(bins) : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    auto b = static_cast<int64_t>((p[i] - lo) / width);
    counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))] += 1;
  }
  impl_->add_value(tag, step, walltime, [&](pb::Summary::Value& value) {
    auto* histo = value.mutable_histo();
    histo->set_min(lo);
    histo->set_max(hi);
    histo->set_num(static_cast<double>(n));
    histo->set_sum(sum);
    histo->set_sum_squares(sum_sq);
    for (int64_t b = 0; b < bins; ++b) {
      histo->add_bucket_limit(b == bins - 1 ? hi : lo + width * static_cast<double>(b + 1));
      histo->add_bucket(counts[static_cast<size_t>(b)]);
    }
  });
}

void SummaryWriter::add_image(const std::string& tag, const at::Tensor& image, int64_t step,
                              const std::string& dataformats, std::optional<double> walltime) {
  TORCH_CHECK(image.defined(), "add_image('", tag, "'): the image tensor is undefined");
  TORCH_CHECK(static_cast<int64_t>(dataformats.size()) == image.dim(), "add_image('", tag, "'): dataformats '",
              dataformats, "' does not match a tensor of ", image.dim(), " dimensions; accepted: CHW, HWC, HW");
  at::Tensor hwc;
  if (dataformats == "CHW")
    hwc = image.permute({1, 2, 0});
  else if (dataformats == "HWC")
    hwc = image;
  else if (dataformats == "HW")
    hwc = image.unsqueeze(2);
  else
    TORCH_CHECK(false, "add_image('", tag, "'): dataformats '", dataformats, "' is invalid; accepted: CHW, HWC, HW");
  hwc = hwc.detach().to(at::kCPU);
  if (hwc.scalar_type() != at::kByte) {
    if (at::isFloatingType(hwc.scalar_type()))
      hwc = hwc.to(at::kFloat).mul(255.0);  // then clamped and truncated, as torch does
    hwc = hwc.clamp(0, 255).to(at::kByte);
  }
  hwc = hwc.contiguous();
  const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
  const int channels = static_cast<int>(hwc.size(2));
  TORCH_CHECK(channels == 1 || channels == 3 || channels == 4, "add_image('", tag, "'): ", channels,
              " channels; accepted: 1 (grayscale), 3 (RGB) or 4 (RGBA)");
  std::string png = detail::encode_png(hwc.data_ptr<uint8_t>(), height, width, channels);
  impl_->add_value(tag, step, walltime, [&](pb::Summary::Value& value) {
    auto* img = value.mutable_image();
    img->set_height(height);
    img->set_width(width);
    img->set_colorspace(channels);
    img->set_encoded_image_string(std::move(png));
  });
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, int64_t step,
                             std::optional<double> walltime) {
  impl_->add_value(tag + "/text_summary", step, walltime, [&](pb::Summary::Value& value) {
    auto* plugin = value.mutable_metadata()->mutable_plugin_data();
    plugin->set_plugin_name("text");
    plugin->set_content(pb::TextPluginData().SerializeAsString());
    auto* tensor = value.mutable_tensor();
    tensor->set_dtype(pb::DT_STRING);
    tensor->add_string_val(text);
    tensor->mutable_tensor_shape()->add_dim()->set_size(1);
  });
}

void SummaryWriter::add_event_bytes(std::string event) { impl_->add_encoded(std::move(event)); }

void SummaryWriter::flush() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->closed) return;
  }
  impl_->writer->sync();
}

void SummaryWriter::close() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->closed) return;
    impl_->closed = true;
  }
  std::exception_ptr error;
  try {
    impl_->writer->stop();
  } catch (...) {
    error = std::current_exception();
  }
  if (impl_->file) std::fclose(impl_->file);
  impl_->file = nullptr;
  if (error) std::rethrow_exception(error);
}

// --- TensorBoardLogger -----------------------------------------------------------------------

namespace {

constexpr const char* kWho = "TensorBoardLogger";

/// torch.utils.tensorboard.summary.hparams: the experiment, session start and session end
/// summaries of the hparams plugin (plugin data version 0).
std::vector<std::string> hparams_events(const std::vector<std::pair<std::string, c10::IValue>>& params,
                                        const std::map<std::string, double>& metrics, double now) {
  auto summary_with = [&](const char* tag, const pb::HParamsPluginData& data) {
    pb::Summary summary;
    auto* value = summary.add_value();
    value->set_tag(tag);
    auto* plugin = value->mutable_metadata()->mutable_plugin_data();
    plugin->set_plugin_name("hparams");
    plugin->set_content(data.SerializeAsString());
    return encode_event(now, 0, std::move(summary));
  };
  pb::HParamsPluginData start;
  start.set_version(0);
  auto* ssi = start.mutable_session_start_info();
  pb::HParamsPluginData experiment;
  experiment.set_version(0);
  auto* exp = experiment.mutable_experiment();
  for (const auto& [key, v] : params) {
    auto& value = (*ssi->mutable_hparams())[key];
    auto* info = exp->add_hparam_infos();
    info->set_name(key);
    // torch checks int/float before bool, so bools are numbers there too.
    if (v.isString()) {
      value.set_string_value(v.toStringRef());
      info->set_type(pb::DATA_TYPE_STRING);
    } else if (v.isBool() || v.isInt() || v.isDouble()) {
      value.set_number_value(v.isBool() ? (v.toBool() ? 1.0 : 0.0) : v.isInt() ? static_cast<double>(v.toInt())
                                                                                 : v.toDouble());
      info->set_type(pb::DATA_TYPE_FLOAT64);
    } else if (v.isTensor() && v.toTensor().defined() && v.toTensor().numel() >= 1) {
      value.set_number_value(v.toTensor().detach().reshape(-1)[0].item<double>());
      info->set_type(pb::DATA_TYPE_FLOAT64);
    } else {
      value.set_string_value(detail::python_str(v));
      info->set_type(pb::DATA_TYPE_STRING);
    }
  }
  for (const auto& [key, _] : metrics) exp->add_metric_infos()->mutable_name()->set_tag(key);
  pb::HParamsPluginData end;
  end.set_version(0);
  end.mutable_session_end_info()->set_status(pb::STATUS_SUCCESS);
  return {summary_with("_hparams_/experiment", experiment), summary_with("_hparams_/session_start_info", start),
          summary_with("_hparams_/session_end_info", end)};
}

}  // namespace

TensorBoardLogger::TensorBoardLogger(std::string save_dir, TensorBoardLoggerOptions options)
    : save_dir_(std::move(save_dir)), options_(std::move(options)) {
  if (options_.max_queue < 1)
    throw MisconfigurationException(
        fmt::format("TensorBoardLogger: max_queue={} is invalid; accepted: an int >= 1", options_.max_queue));
  if (!(options_.flush_secs > 0))
    throw MisconfigurationException(
        fmt::format("TensorBoardLogger: flush_secs={} is invalid; accepted: a number of seconds > 0", options_.flush_secs));
  version_ = options_.version;
}

TensorBoardLogger::~TensorBoardLogger() = default;

std::string TensorBoardLogger::name() const { return options_.name; }

std::string TensorBoardLogger::version() const {
  std::lock_guard lock(mutex_);
  if (!version_) version_ = LoggerVersion(detail::reserve_next_version(*root_dir(), kWho));
  return version_->str();
}

std::optional<std::string> TensorBoardLogger::root_dir() const { return detail::join_path(save_dir_, options_.name); }

std::optional<std::string> TensorBoardLogger::log_dir() const {
  version();
  std::string dir = detail::join_path(*root_dir(), version_->folder());
  if (options_.sub_dir) dir = detail::join_path(dir, *options_.sub_dir);
  return dir;
}

std::optional<std::string> TensorBoardLogger::save_dir() const { return save_dir_; }

SummaryWriter& TensorBoardLogger::experiment() {
  {
    std::lock_guard lock(mutex_);
    if (experiment_) return *experiment_;
  }
  const std::string dir = *log_dir();
  std::lock_guard lock(mutex_);
  finalized_ = false;
  if (!experiment_) {
    experiment_ = std::make_unique<SummaryWriter>(
        dir, SummaryWriterOptions{.flush_secs = options_.flush_secs, .max_queue = options_.max_queue});
  }
  return *experiment_;
}

void TensorBoardLogger::log_metrics(const std::map<std::string, double>& metrics, std::optional<int64_t> step) {
  experiment().add_scalars(metrics, options_.prefix, step.value_or(0), detail::wall_time_now());
}

void TensorBoardLogger::log_hyperparams(const Hyperparameters& params, const std::map<std::string, double>& metrics) {
  for (const auto& [k, v] : params) hparams_.set(k, v);
  std::map<std::string, double> m = metrics;
  if (m.empty() && options_.default_hp_metric) m = {{"hp_metric", -1.0}};
  if (m.empty()) {
    experiment();  // the run's folder exists from here on, as in Lightning
    return;
  }
  log_metrics(m, 0);
  auto& writer = experiment();
  for (auto& event : hparams_events(detail::flatten_hparams(params), m, detail::wall_time_now()))
    writer.add_event_bytes(std::move(event));
}

void TensorBoardLogger::log_graph(torch::nn::Module& model) {
  if (!options_.log_graph || graph_warned_) return;
  graph_warned_ = true;
  std::cerr << "TensorBoardLogger(log_graph=true): LibTorch modules cannot be traced into a TensorBoard graph; "
               "no graph is logged."
            << std::endl;
}

void TensorBoardLogger::save() {
  SummaryWriter* writer;
  {
    std::lock_guard lock(mutex_);
    writer = experiment_.get();
  }
  if (!writer) {
    if (finalized_) return;  // Lightning's closed writer does not reopen on flush
    writer = &experiment();  // as Lightning's save(): `experiment.flush()` creates the run's folder
  }
  if (!hparams_file_written_) {
    detail::write_hparams_yaml(detail::join_path(writer->log_dir(), "hparams.yaml"), hparams_);
    hparams_file_written_ = true;
  }
  writer->impl_->writer->wake();  // Lightning flushes here; the writer thread does it soon
}

void TensorBoardLogger::finalize(const std::string& status) {
  std::unique_ptr<SummaryWriter> writer;
  {
    std::lock_guard lock(mutex_);
    writer = std::move(experiment_);
    finalized_ = true;
  }
  if (!writer) return;
  if (status == "success" && !hparams_file_written_) {
    detail::write_hparams_yaml(detail::join_path(writer->log_dir(), "hparams.yaml"), hparams_);
    hparams_file_written_ = true;
  }
  writer->close();
}

}  // namespace lightning::loggers
