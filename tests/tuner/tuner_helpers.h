#pragma once
// What the tuner tests share: comparing whole checkpoints (the trainer state a tuning procedure
// must leave as it found it).
#include <lightning/lightning.h>

#include <gtest/gtest.h>

#include <string>

namespace lightning::testing {

/// A copy of `v` that shares no tensor with it (checkpoint tensors are views of live state).
inline c10::IValue deep_clone(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor().clone();
  if (v.isGenericDict()) {
    const auto d = v.toGenericDict();
    c10::impl::GenericDict out(d.keyType(), d.valueType());
    for (const auto& e : d) out.insert(e.key(), deep_clone(e.value()));
    return out;
  }
  if (v.isList()) {
    const auto l = v.toList();
    c10::impl::GenericList out(l.elementType());
    for (const auto& x : l) out.push_back(deep_clone(x));
    return out;
  }
  return v;
}

/// The first difference between `a` and `b` (tensors bit for bit), "" when they are identical;
/// keys listed in `skip` (top level) are not compared.
inline std::string first_difference(const c10::IValue& a, const c10::IValue& b, const std::string& at = "",
                                    const std::vector<std::string>& skip = {}) {
  if (a.tagKind() != b.tagKind()) return at + ": " + a.tagKind() + " vs " + b.tagKind();
  if (a.isTensor()) {
    const auto& x = a.toTensor();
    const auto& y = b.toTensor();
    if (x.defined() != y.defined()) return at + ": defined differs";
    if (!x.defined()) return "";
    if (x.scalar_type() != y.scalar_type() || x.sizes() != y.sizes() || !torch::equal(x, y)) return at + ": tensors differ";
    return "";
  }
  if (a.isGenericDict()) {
    const auto x = a.toGenericDict();
    const auto y = b.toGenericDict();
    if (x.size() != y.size()) return at + ": dict sizes differ";
    auto ix = x.begin();
    auto iy = y.begin();
    for (; ix != x.end(); ++ix, ++iy) {
      const std::string key = ix->key().isString() ? ix->key().toStringRef() : ix->key().tagKind();
      if (!(ix->key() == iy->key())) return at + ": keys differ at " + key;
      if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
      if (auto d = first_difference(ix->value(), iy->value(), at + "/" + key); !d.empty()) return d;
    }
    return "";
  }
  if (a.isList()) {
    const auto x = a.toListRef();
    const auto y = b.toListRef();
    if (x.size() != y.size()) return at + ": list sizes differ";
    for (size_t i = 0; i < x.size(); ++i)
      if (auto d = first_difference(x[i], y[i], at + "[" + std::to_string(i) + "]"); !d.empty()) return d;
    return "";
  }
  if (a.isDouble()) {
    const double x = a.toDouble(), y = b.toDouble();
    return (x == y || (std::isnan(x) && std::isnan(y))) ? "" : at + ": " + std::to_string(x) + " vs " + std::to_string(y);
  }
  if (a.isNone()) return "";
  return a == b ? "" : at + ": values differ";
}

}  // namespace lightning::testing
