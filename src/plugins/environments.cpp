#include "lightning/plugins/environments.h"

#include "lightning/utilities/errors.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <string_view>

namespace lightning::plugins {

namespace {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool is_set(const char* name) { return std::getenv(name) != nullptr; }

// What Python's `int()` accepts of a decimal string: surrounding whitespace and a sign.
std::optional<int64_t> to_int(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

int64_t parse_int(const char* name, const std::string& value) {
  if (auto parsed = to_int(value)) return *parsed;
  throw MisconfigurationException(fmt::format(
      "The environment variable {}='{}' is not an integer; an integer is accepted (e.g. {}=0).", name, value, name));
}

// The integer in `name`, or `fallback` when it is not set.
int64_t int_env(const char* name, int64_t fallback) {
  auto value = env(name);
  return value ? parse_int(name, *value) : fallback;
}

// The integer in `name`, which `environment` needs.
int64_t required_int_env(const char* name, const char* environment) {
  auto value = env(name);
  if (!value)
    throw MisconfigurationException(fmt::format(
        "{} needs the environment variable {}, which is not set; set it to an integer.", environment, name));
  return parse_int(name, *value);
}

int port_env(const char* name, int fallback) {
  auto value = env(name);
  if (!value) return fallback;
  const int64_t port = parse_int(name, *value);
  if (port < 1 || port > 65535)
    throw MisconfigurationException(
        fmt::format("The environment variable {}={} is not a port; an integer in [1, 65535] is accepted.", name, port));
  return static_cast<int>(port);
}

// A port that is free right now on 127.0.0.1, chosen by the OS.
int find_free_network_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open a socket to find a free port: {}", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot find a free port on 127.0.0.1: {}", std::strerror(error)));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// The environments whose ranks come from the launcher ignore the strategy's value; a missing
// or bad variable is left for the getter to report.
void warn_ignored(const std::string& environment, const char* setter, const char* what, int64_t given,
                  const char* variable) {
  auto value = env(variable);
  auto actual = value ? to_int(*value) : std::nullopt;
  if (!actual || *actual == given) return;
  std::cerr << fmt::format("{}.{} was called with {}, but the {} comes from {}={}; setting it is not allowed. Ignored.",
                           environment, setter, given, what, variable, *actual)
            << std::endl;
}

bool is_slurm_interactive_mode() {
  const auto name = SLURMEnvironment::job_name();
  return name && (*name == "bash" || *name == "interactive");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ClusterEnvironment

void ClusterEnvironment::set_world_size(int64_t) {}
void ClusterEnvironment::set_global_rank(int64_t) {}

// ---------------------------------------------------------------------------------------------
// LightningEnvironment

bool LightningEnvironment::detect() { return true; }

bool LightningEnvironment::creates_processes_externally() const { return is_set("LOCAL_RANK"); }

std::string LightningEnvironment::main_address() const { return env("MASTER_ADDR").value_or("127.0.0.1"); }

int LightningEnvironment::main_port() const {
  if (main_port_ == -1) main_port_ = is_set("MASTER_PORT") ? port_env("MASTER_PORT", 0) : find_free_network_port();
  return main_port_;
}

int64_t LightningEnvironment::world_size() const { return world_size_; }
void LightningEnvironment::set_world_size(int64_t size) { world_size_ = size; }
int64_t LightningEnvironment::global_rank() const { return global_rank_; }
void LightningEnvironment::set_global_rank(int64_t rank) { global_rank_ = rank; }

int64_t LightningEnvironment::local_rank() const { return int_env("LOCAL_RANK", 0); }

int64_t LightningEnvironment::node_rank() const {
  return is_set("NODE_RANK") ? int_env("NODE_RANK", 0) : int_env("GROUP_RANK", 0);
}

void LightningEnvironment::teardown() { ::unsetenv("WORLD_SIZE"); }

std::string LightningEnvironment::name() const { return "LightningEnvironment"; }

// ---------------------------------------------------------------------------------------------
// TorchElasticEnvironment

bool TorchElasticEnvironment::detect() {
  return is_set("RANK") && is_set("GROUP_RANK") && is_set("LOCAL_RANK") && is_set("LOCAL_WORLD_SIZE");
}

bool TorchElasticEnvironment::creates_processes_externally() const { return true; }

std::string TorchElasticEnvironment::main_address() const {
  auto address = env("MASTER_ADDR");
  if (!address)
    throw MisconfigurationException(
        "TorchElasticEnvironment needs the environment variable MASTER_ADDR, which is not set; set it to the "
        "address of the main node (torchrun sets it).");
  return *address;
}

int TorchElasticEnvironment::main_port() const {
  if (!is_set("MASTER_PORT"))
    throw MisconfigurationException(
        "TorchElasticEnvironment needs the environment variable MASTER_PORT, which is not set; set it to a port "
        "(torchrun sets it).");
  return port_env("MASTER_PORT", 0);
}

int64_t TorchElasticEnvironment::world_size() const { return required_int_env("WORLD_SIZE", "TorchElasticEnvironment"); }

void TorchElasticEnvironment::set_world_size(int64_t size) {
  warn_ignored(name(), "set_world_size", "world size", size, "WORLD_SIZE");
}

int64_t TorchElasticEnvironment::global_rank() const { return required_int_env("RANK", "TorchElasticEnvironment"); }

void TorchElasticEnvironment::set_global_rank(int64_t rank) {
  warn_ignored(name(), "set_global_rank", "global rank", rank, "RANK");
}

int64_t TorchElasticEnvironment::local_rank() const {
  return required_int_env("LOCAL_RANK", "TorchElasticEnvironment");
}

int64_t TorchElasticEnvironment::node_rank() const { return int_env("GROUP_RANK", 0); }

void TorchElasticEnvironment::validate_settings(int64_t num_devices, int64_t num_nodes) const {
  const int64_t world = world_size();
  if (num_devices * num_nodes != world)
    throw MisconfigurationException(fmt::format(
        "You set `devices={}` and `num_nodes={}` in Lightning, but the product ({} * {}) does not match the world "
        "size ({}).",
        num_devices, num_nodes, num_devices, num_nodes, world));
  if (is_set("LOCAL_WORLD_SIZE")) {
    const int64_t per_node = int_env("LOCAL_WORLD_SIZE", 0);
    if (per_node != num_devices)
      throw MisconfigurationException(fmt::format(
          "You set `devices={}` in Lightning, but torchrun launched {} processes per node "
          "(`--nproc-per-node={}`, LOCAL_WORLD_SIZE). HINT: Set `devices={}`.",
          num_devices, per_node, per_node, per_node));
  }
}

std::string TorchElasticEnvironment::name() const { return "TorchElasticEnvironment"; }

// ---------------------------------------------------------------------------------------------
// SLURMEnvironment
//
// Left out of Lightning's class: automatic requeueing (`auto_requeue`, `requeue_signal`), the
// warning when `srun` is on PATH but not used, and writing MASTER_ADDR/MASTER_PORT back into
// the environment from the getters (the strategy passes address and port on itself).

bool SLURMEnvironment::detect() { return is_set("SLURM_NTASKS") && !is_slurm_interactive_mode(); }

std::optional<std::string> SLURMEnvironment::job_name() { return env("SLURM_JOB_NAME"); }

std::optional<int64_t> SLURMEnvironment::job_id() {
  if (is_slurm_interactive_mode()) return std::nullopt;  // logs of interactive jobs must not share an id
  auto id = env("SLURM_JOB_ID");
  return id ? to_int(*id) : std::nullopt;
}

std::string SLURMEnvironment::resolve_root_node_address(const std::string& nodes) {
  // Lightning's two substitutions, replacing every match as `re.sub` does: the first takes the
  // first number of a range or list ("[5-9,1]" → "5"), the second unwraps a single one ("[22]").
  static const std::regex first_of_range(R"(\[(.*?)[,-].*\])");
  static const std::regex single(R"(\[(.*?)\])");
  std::string resolved = std::regex_replace(nodes, first_of_range, "$1");
  resolved = std::regex_replace(resolved, single, "$1");
  resolved = resolved.substr(0, resolved.find(' '));
  return resolved.substr(0, resolved.find(','));
}

bool SLURMEnvironment::creates_processes_externally() const { return true; }

std::string SLURMEnvironment::main_address() const {
  if (auto address = env("MASTER_ADDR")) return *address;
  auto nodes = env("SLURM_NODELIST");
  if (!nodes) nodes = env("SLURM_JOB_NODELIST");
  return resolve_root_node_address(nodes.value_or("127.0.0.1"));
}

int SLURMEnvironment::main_port() const {
  if (is_set("MASTER_PORT")) return port_env("MASTER_PORT", 0);
  auto id = env("SLURM_JOB_ID");
  if (!id) return 12910;
  // Every process of the job derives the same port: 15000 + the job id's last four digits.
  const std::string last_four = id->size() > 4 ? id->substr(id->size() - 4) : *id;
  auto digits = to_int(last_four);
  if (!digits || *digits < 0)
    throw MisconfigurationException(fmt::format(
        "The environment variable SLURM_JOB_ID='{}' does not end in digits, from which the port 15000 + the last "
        "four digits is derived; an integer is accepted (or set MASTER_PORT).",
        *id));
  return static_cast<int>(15000 + *digits);
}

int64_t SLURMEnvironment::world_size() const { return required_int_env("SLURM_NTASKS", "SLURMEnvironment"); }

void SLURMEnvironment::set_world_size(int64_t size) {
  warn_ignored(name(), "set_world_size", "world size", size, "SLURM_NTASKS");
}

int64_t SLURMEnvironment::global_rank() const { return required_int_env("SLURM_PROCID", "SLURMEnvironment"); }

void SLURMEnvironment::set_global_rank(int64_t rank) {
  warn_ignored(name(), "set_global_rank", "global rank", rank, "SLURM_PROCID");
}

int64_t SLURMEnvironment::local_rank() const { return required_int_env("SLURM_LOCALID", "SLURMEnvironment"); }

int64_t SLURMEnvironment::node_rank() const { return required_int_env("SLURM_NODEID", "SLURMEnvironment"); }

void SLURMEnvironment::validate_settings(int64_t num_devices, int64_t num_nodes) const {
  if (is_slurm_interactive_mode()) return;
  const bool has_per_node = is_set("SLURM_NTASKS_PER_NODE");
  // Lightning checks this one when the environment is constructed.
  const int64_t ntasks = int_env("SLURM_NTASKS", 1);
  if (ntasks > 1 && !has_per_node)
    throw MisconfigurationException(fmt::format(
        "You set `--ntasks={}` in your SLURM bash script, but this variable is not supported. HINT: Use "
        "`--ntasks-per-node={}` instead.",
        ntasks, ntasks));
  if (has_per_node) {
    const std::string raw = *env("SLURM_NTASKS_PER_NODE");
    const int64_t per_node = parse_int("SLURM_NTASKS_PER_NODE", raw);
    if (per_node != num_devices)
      throw MisconfigurationException(fmt::format(
          "You set `devices={}` in Lightning, but the number of tasks per node configured in SLURM "
          "`--ntasks-per-node={}` does not match. HINT: Set `devices={}`.",
          num_devices, per_node, per_node));
  }
  if (is_set("SLURM_NNODES")) {
    const int64_t nodes = int_env("SLURM_NNODES", 0);
    if (nodes != num_nodes)
      throw MisconfigurationException(fmt::format(
          "You set `num_nodes={}` in Lightning, but the number of nodes configured in SLURM `--nodes={}` does not "
          "match. HINT: Set `num_nodes={}`.",
          num_nodes, nodes, nodes));
  }
}

std::string SLURMEnvironment::name() const { return "SLURMEnvironment"; }

// ---------------------------------------------------------------------------------------------

std::shared_ptr<ClusterEnvironment> detect_cluster_environment() {
  // TorchElastic first: torchrun can also run inside a SLURM allocation.
  if (TorchElasticEnvironment::detect()) return std::make_shared<TorchElasticEnvironment>();
  if (SLURMEnvironment::detect()) return std::make_shared<SLURMEnvironment>();
  return std::make_shared<LightningEnvironment>();
}

}  // namespace lightning::plugins
