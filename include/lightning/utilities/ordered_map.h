#pragma once
/// OrderedMap: string keys in the order they were first inserted, as a Python dict keeps them.
/// Lightning's metric dictionaries (`callback_metrics`, `logged_metrics`, `progress_bar_metrics`)
/// iterate in the order keys were first logged, and users print and diff that order.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lightning {

template <typename V>
class OrderedMap {
 public:
  using value_type = std::pair<std::string, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  OrderedMap() = default;
  OrderedMap(std::initializer_list<value_type> entries) {
    for (const auto& [key, value] : entries) insert_or_assign(key, value);
  }

  // Metric dictionaries hold tens of keys: a linear search beats hashing them.
  iterator find(std::string_view key) {
    return std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; });
  }
  const_iterator find(std::string_view key) const {
    return std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; });
  }
  bool contains(std::string_view key) const { return find(key) != end(); }
  size_t count(std::string_view key) const { return contains(key) ? 1 : 0; }

  /// The value of `key`, appended (default-constructed) if absent.
  V& operator[](std::string_view key) {
    auto it = find(key);
    if (it != end()) return it->second;
    return entries_.emplace_back(std::string(key), V{}).second;
  }
  const V& at(std::string_view key) const {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("OrderedMap::at: no key '" + std::string(key) + "'");
    return it->second;
  }
  V& at(std::string_view key) { return const_cast<V&>(std::as_const(*this).at(key)); }
  /// Replaces the value of an existing key in place (its position stays) or appends it.
  void insert_or_assign(std::string_view key, V value) { (*this)[key] = std::move(value); }
  size_t erase(std::string_view key) {
    auto it = find(key);
    if (it == end()) return 0;
    entries_.erase(it);
    return 1;
  }
  void clear() { entries_.clear(); }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }

  /// The keys in insertion order.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
  }
  /// For code written against the earlier `std::map` (sorted) form.
  operator std::map<std::string, V>() const { return std::map<std::string, V>(begin(), end()); }

 private:
  std::vector<value_type> entries_;
};

}  // namespace lightning
