#pragma once
/// Accelerator: what the Trainer knows of one kind of device (Lightning's `Accelerator`): whether
/// it is there, how many there are, which ones the `devices` flag selects, and how to prepare one
/// for training. It knows nothing of models or steps: the strategy that owns it does those.
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace lightning {

class Trainer;

/// `devices`: an int count (`-1`: all), a list of indices, or a string ("auto", "3" (a count),
/// "0,2" or "1," (indices), "-1").
struct Devices {
  Devices(int count) : value(static_cast<int64_t>(count)) {}
  Devices(int64_t count) : value(count) {}
  Devices(const char* spec) : value(std::string(spec)) {}
  Devices(std::string spec) : value(std::move(spec)) {}
  Devices(std::vector<int> ids) : value(std::move(ids)) {}
  std::variant<int64_t, std::string, std::vector<int>> value;
  bool is_auto() const;
  /// As the flag was written: `3`, `'0,1'`, `[0, 1]`.
  std::string str() const;
};

namespace accelerators {

/// Subclass one of the built-in accelerators to change how devices are set up, and pass it as
/// an object (`TrainerOptions{.accelerator = std::make_shared<MyAccelerator>()}`), or register a
/// new kind in the AcceleratorRegistry. Lightning's static methods (`parse_devices`,
/// `get_parallel_devices`, `auto_device_count`, `is_available`) are virtual members here, so that
/// such a subclass can change them too.
class Accelerator {
 public:
  virtual ~Accelerator() = default;

  /// Called once a run starts, before the module moves to its device (Lightning's `setup`).
  virtual void setup(Trainer& trainer) {}
  /// Prepares `device` for this process; throws MisconfigurationException for a device of
  /// another kind.
  virtual void setup_device(const torch::Device& device) = 0;
  /// Releases what `setup_device` took; called at the end of every run.
  virtual void teardown() {}
  /// Figures about `device` for monitoring callbacks and loggers, under Lightning's names.
  virtual std::map<std::string, double> get_device_stats(const torch::Device& device) const = 0;

  /// The indices of the devices the flag selects; throws MisconfigurationException naming the
  /// flag, its value and what is accepted.
  virtual std::vector<int64_t> parse_devices(const Devices& devices) const = 0;
  /// The torch devices of `parse_devices`.
  virtual std::vector<torch::Device> get_parallel_devices(const Devices& devices) const = 0;
  /// How many devices `devices="auto"` selects.
  virtual int64_t auto_device_count() const = 0;
  virtual bool is_available() const = 0;
  /// The name it is registered under ("cpu", "cuda").
  virtual std::string name() const = 0;
};

}  // namespace accelerators
}  // namespace lightning
