// Placeholder until the own pickle reader lands: LibTorch's pickler both ways.
#include "lightning/checkpoint/serialization.h"

#include "lightning/utilities/errors.h"

#include <torch/serialize.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace lightning {

std::vector<char> torch_save_to_bytes(const c10::IValue& obj) { return torch::pickle_save(obj); }

void torch_save(const c10::IValue& obj, const std::string& path) {
  auto bytes = torch_save_to_bytes(obj);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw CheckpointError(fmt::format("cannot write checkpoint '{}': {}", path, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw CheckpointError(fmt::format("cannot write checkpoint '{}': {}", path, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw CheckpointError(fmt::format("cannot write checkpoint '{}': {}", path, std::strerror(errno)));
}

c10::IValue torch_load_from_bytes(const void* data, size_t size, const std::string& name) {
  try {
    auto p = static_cast<const char*>(data);
    return torch::pickle_load(std::vector<char>(p, p + size));
  } catch (const std::exception& e) {
    throw CheckpointError(fmt::format("cannot read checkpoint '{}': {}", name, e.what()));
  }
}

c10::IValue torch_load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(fmt::format("cannot read checkpoint '{}': no such file", path));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return torch_load_from_bytes(bytes.data(), bytes.size(), path);
}

}  // namespace lightning
