#pragma once
// An independent reader for TensorBoard event files, for the tests: its own bitwise CRC32C, the
// record framing and a minimal protobuf wire-format decoder. It shares no code with the library
// (neither the generated classes nor src/loggers), so it checks the bytes themselves.
#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lightning::testing {

/// CRC-32C, bit by bit (Castagnoli, reflected polynomial 0x82F63B78).
inline uint32_t reference_crc32c(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline uint32_t reference_masked_crc32c(const void* data, size_t size) {
  uint32_t crc = reference_crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Names in `dir` starting with `prefix`, sorted.
inline std::vector<std::string> list_dir(const std::string& dir, const std::string& prefix = "") {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline uint32_t le32(const std::string& s, size_t pos) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

inline uint64_t le64(const std::string& s, size_t pos) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

/// Splits an event file into its records, checking both masked CRCs of every record.
inline std::vector<std::string> read_records(const std::string& bytes) {
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (pos + 12 > bytes.size()) throw std::runtime_error("truncated record header");
    const uint64_t length = le64(bytes, pos);
    if (le32(bytes, pos + 8) != reference_masked_crc32c(bytes.data() + pos, 8))
      throw std::runtime_error("bad length CRC");
    pos += 12;
    if (pos + length + 4 > bytes.size()) throw std::runtime_error("truncated record data");
    std::string data = bytes.substr(pos, length);
    if (le32(bytes, pos + length) != reference_masked_crc32c(data.data(), data.size()))
      throw std::runtime_error("bad data CRC");
    pos += length + 4;
    records.push_back(std::move(data));
  }
  return records;
}

/// One decoded protobuf message: every field by number, in order, with its raw payload.
struct Message {
  struct Field {
    int wire_type = 0;
    uint64_t varint = 0;  // wire type 0, and the raw bits of fixed32/fixed64
    std::string bytes;    // wire type 2
  };
  std::multimap<int, Field> fields;

  static uint64_t read_varint(const std::string& s, size_t& pos) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= s.size()) throw std::runtime_error("truncated varint");
      const auto b = static_cast<unsigned char>(s[pos++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("varint too long");
  }

  static Message parse(const std::string& s) {
    Message m;
    size_t pos = 0;
    while (pos < s.size()) {
      const uint64_t key = read_varint(s, pos);
      Field f;
      f.wire_type = static_cast<int>(key & 7);
      switch (f.wire_type) {
        case 0: f.varint = read_varint(s, pos); break;
        case 1: f.varint = le64(s, pos), pos += 8; break;
        case 5: f.varint = le32(s, pos), pos += 4; break;
        case 2: {
          const uint64_t n = read_varint(s, pos);
          if (pos + n > s.size()) throw std::runtime_error("truncated length-delimited field");
          f.bytes = s.substr(pos, n);
          pos += n;
          break;
        }
        default: throw std::runtime_error("unexpected wire type " + std::to_string(f.wire_type));
      }
      if (pos > s.size()) throw std::runtime_error("truncated field");
      m.fields.emplace(static_cast<int>(key >> 3), std::move(f));
    }
    return m;
  }

  bool has(int n) const { return fields.count(n) > 0; }
  const Field& field(int n) const {
    auto it = fields.find(n);
    if (it == fields.end()) throw std::runtime_error("no field " + std::to_string(n));
    return it->second;
  }
  std::vector<const Field*> all(int n) const {
    std::vector<const Field*> out;
    auto [a, b] = fields.equal_range(n);
    for (auto it = a; it != b; ++it) out.push_back(&it->second);
    return out;
  }
  int64_t integer(int n, int64_t otherwise = 0) const {
    return has(n) ? static_cast<int64_t>(field(n).varint) : otherwise;
  }
  double float64(int n) const {
    if (!has(n)) return 0.0;
    double d;
    uint64_t bits = field(n).varint;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  float float32(int n) const {
    if (!has(n)) return 0.0f;
    float f;
    auto bits = static_cast<uint32_t>(field(n).varint);
    std::memcpy(&f, &bits, 4);
    return f;
  }
  std::string string(int n) const { return has(n) ? field(n).bytes : std::string(); }
  Message message(int n) const { return has(n) ? parse(field(n).bytes) : Message{}; }
  /// A packed repeated double field.
  std::vector<double> packed_doubles(int n) const {
    std::vector<double> out;
    for (const auto* f : all(n))
      for (size_t i = 0; i + 8 <= f->bytes.size(); i += 8) {
        double d;
        uint64_t bits = le64(f->bytes, i);
        std::memcpy(&d, &bits, 8);
        out.push_back(d);
      }
    return out;
  }
};

/// TensorBoard's Event (event.proto): wall_time 1, step 2, file_version 3, summary 5;
/// Summary.value 1; Value: tag 1, simple_value 2, image 4, histo 5, tensor 8, metadata 9.
struct DecodedEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::optional<std::string> file_version;
  std::vector<Message> values;  // Summary.Value messages
};

inline std::vector<DecodedEvent> read_events(const std::string& path) {
  std::vector<DecodedEvent> out;
  for (const auto& record : read_records(read_file(path))) {
    Message m = Message::parse(record);
    DecodedEvent e;
    e.wall_time = m.float64(1);
    e.step = m.integer(2);
    if (m.has(3)) e.file_version = m.string(3);
    if (m.has(5)) {
      Message summary = m.message(5);
      for (const auto* v : summary.all(1)) e.values.push_back(Message::parse(v->bytes));
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace lightning::testing
