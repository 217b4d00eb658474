#pragma once
// Small ids for the names in logger rows, so that a queued row holds numbers, not strings. A
// row usually has the previous row's keys: recognising that costs one comparison per key.
// Used on the caller's thread under the logger's queue mutex; the writer thread copies the
// names it has not seen yet (`copy_new_names`) while it holds that mutex.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace lightning::detail {

class KeyTable {
 public:
  /// The id of `name`, new or known.
  uint32_t id(const std::string& name) {
    auto [it, added] = index_.try_emplace(name, static_cast<uint32_t>(names_.size()));
    if (added) names_.push_back(name);
    return it->second;
  }

  /// The ids of `row`'s keys in the row's order, each named `prefix-key` (Lightning's logger
  /// prefix and join character) or `key` without a prefix. Valid until the next call.
  const std::vector<uint32_t>& ids(const std::map<std::string, double>& row, const std::string& prefix) {
    bool same = prefix == last_prefix_ && row.size() == last_keys_.size();
    if (same) {
      size_t i = 0;
      for (const auto& entry : row)
        if (entry.first != last_keys_[i++]) {
          same = false;
          break;
        }
    }
    if (!same) {
      last_prefix_ = prefix;
      last_keys_.clear();
      last_ids_.clear();
      for (const auto& entry : row) {
        last_keys_.push_back(entry.first);
        last_ids_.push_back(id(prefix.empty() ? entry.first : prefix + "-" + entry.first));
      }
    }
    return last_ids_;
  }

  /// Appends to `seen` the names added since it was last brought up to date.
  void copy_new_names(std::vector<std::string>& seen) const {
    seen.insert(seen.end(), names_.begin() + static_cast<std::ptrdiff_t>(seen.size()), names_.end());
  }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> index_;
  std::string last_prefix_;
  std::vector<std::string> last_keys_;
  std::vector<uint32_t> last_ids_;
};

}  // namespace lightning::detail
