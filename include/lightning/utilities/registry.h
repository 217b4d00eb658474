#pragma once
/// Registry<T>: names that a Trainer flag accepts and the factory behind each (the base of
/// AcceleratorRegistry and StrategyRegistry, as Lightning's `_AcceleratorRegistry` and
/// `_StrategyRegistry`). Thread-safe; `get` builds a new object each time.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lightning::detail {

/// Throws MisconfigurationException: `flag='name'` is unknown, with the names accepted.
[[noreturn]] void throw_unknown_name(const std::string& flag, const std::string& name,
                                     const std::vector<std::string>& accepted, const std::string& object_kind);
/// Throws MisconfigurationException for an invalid registration (`why`).
[[noreturn]] void throw_bad_registration(const std::string& registry, const std::string& name, const std::string& why);

template <typename T>
class Registry {
 public:
  using Factory = std::function<std::shared_ptr<T>()>;

  /// Throws MisconfigurationException when `name` is reserved or taken (unless `override`).
  void add(const std::string& name, Factory factory, const std::string& description = "", bool override = false) {
    if (!factory) throw_bad_registration(registry_, name, "the factory is empty");
    if (name.empty()) throw_bad_registration(registry_, name, "the name is empty");
    for (const auto& reserved : reserved_)
      if (name == reserved) throw_bad_registration(registry_, name, "the Trainer resolves this name itself");
    std::lock_guard lock(mutex_);
    if (entries_.count(name) && !override)
      throw_bad_registration(registry_, name, "it is already registered (pass override=true to replace it)");
    entries_[name] = {std::move(factory), description};
  }
  /// A new object of that name; throws MisconfigurationException listing the names accepted.
  std::shared_ptr<T> get(const std::string& name) const {
    Factory factory;
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(name);
      if (it != entries_.end()) factory = it->second.factory;
    }
    if (!factory) {
      auto accepted = reserved_;
      for (const auto& n : names()) accepted.push_back(n);
      throw_unknown_name(flag_, name, accepted, object_kind_);
    }
    auto object = factory();
    if (!object) throw_bad_registration(registry_, name, "its factory returned null");
    return object;
  }
  bool contains(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return entries_.count(name) > 0;
  }
  void remove(const std::string& name) {
    std::lock_guard lock(mutex_);
    entries_.erase(name);
  }
  /// The registered names, sorted.
  std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }
  std::string description(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    return it == entries_.end() ? "" : it->second.description;
  }

 protected:
  /// `reserved`: names the Trainer resolves itself ("auto"), accepted by the flag but not registrable.
  Registry(std::string registry, std::string flag, std::string object_kind, std::vector<std::string> reserved)
      : registry_(std::move(registry)),
        flag_(std::move(flag)),
        object_kind_(std::move(object_kind)),
        reserved_(std::move(reserved)) {}

 private:
  struct Entry {
    Factory factory;
    std::string description;
  };
  std::string registry_, flag_, object_kind_;
  std::vector<std::string> reserved_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace lightning::detail
