// The torch side of the op registry: each op transforms the selected channels [N, k, H, W].
#include <functional>

#include <c10/core/InferenceMode.h>

#include "actmap/error.h"
#include "actmap/ops.h"
#include "actmap/renderer.h"

using nlohmann::json;

namespace actmap {
namespace {

using OpFn = std::function<at::Tensor(const at::Tensor& sel, const json& params)>;

const std::map<std::string, OpFn>& op_kernels() {
  static const std::map<std::string, OpFn> kernels = {
      {"fill", [](const at::Tensor& s, const json& p) { return at::full_like(s, p.at("value").get<double>()); }},
      {"multiply", [](const at::Tensor& s, const json& p) { return s * p.at("factor").get<double>(); }},
      {"add", [](const at::Tensor& s, const json& p) { return s + p.at("value").get<double>(); }},
      {"ablate", [](const at::Tensor& s, const json&) { return at::zeros_like(s); }},
  };
  return kernels;
}

}  // namespace

at::Tensor apply_edits(const at::Tensor& x, const std::vector<const Edit*>& edits, const TapInfo& tap,
                       const std::vector<int>& cluster_labels) {
  if (edits.empty()) return x;
  c10::InferenceMode guard;
  at::Tensor out = x.clone();
  for (const Edit* e : edits) {
    const auto it = op_kernels().find(e->op);
    if (it == op_kernels().end()) throw Error("edit '" + e->id + "': op '" + e->op + "' has no implementation");
    std::vector<std::int64_t> channels;
    try {
      channels = e->channels.resolve(out.size(1), tap.name, cluster_labels);
    } catch (const Error& err) {
      throw Error("edit '" + e->id + "': " + err.what());
    }
    if (static_cast<std::int64_t>(channels.size()) == out.size(1)) {
      out = it->second(out, e->params);
    } else {
      const at::Tensor index = at::tensor(channels, at::kLong).to(out.device());
      out.index_copy_(1, index, it->second(out.index_select(1, index), e->params));
    }
  }
  return out;
}

}  // namespace actmap
