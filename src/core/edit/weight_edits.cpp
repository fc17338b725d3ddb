#include "actmap/edit/weight_edits.h"

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

bool is_weight_op(const std::string& op) {
  const OpSpec* spec = find_op(op);
  return spec && spec->category == "weight";
}

at::Tensor apply_weight_edits(const at::Tensor& weight, int out_dim, const std::vector<const Edit*>& edits,
                              const TapInfo& tap, const std::vector<int>& cluster_labels) {
  at::Tensor w = weight.clone();
  const std::int64_t outputs = w.size(out_dim);
  for (const Edit* e : edits) {
    try {
      if (!is_weight_op(e->op)) throw Error("op '" + e->op + "' is not a weight edit");
      if (outputs != tap.channels) {
        throw Error("the layer producing tap '" + tap.name + "' has " + std::to_string(outputs) + " output channels, the tap " +
                    std::to_string(tap.channels) + "; its weights cannot be edited per channel");
      }
      const std::vector<std::int64_t> channels = e->channels.resolve(outputs, tap.name, cluster_labels);
      if (channels.empty()) continue;  // a missing cluster or an empty random draw: nothing to do
      const at::Tensor index = at::tensor(channels, at::kLong).to(w.device());
      at::Tensor sel = w.index_select(out_dim, index);
      const bool spatial = sel.dim() == 4;
      auto need_spatial = [&] {
        if (!spatial) throw Error("op '" + e->op + "' needs k x k kernels; the layer producing '" + tap.name + "' is fully connected");
      };
      if (e->op == "weight_zero") {
        sel.zero_();
      } else if (e->op == "weight_ones") {
        sel.fill_(1.0);
      } else if (e->op == "weight_negate") {
        sel.neg_();
      } else if (e->op == "weight_transpose") {
        need_spatial();
        sel = sel.transpose(2, 3).contiguous();
      } else if (e->op == "weight_rotate90") {
        need_spatial();
        sel = at::rot90(sel, e->params.value("turns", 1), {2, 3}).contiguous();
      } else if (e->op == "weight_mean") {
        need_spatial();
        sel = sel.mean({2, 3}, true).expand_as(sel).contiguous();
      }
      w.index_copy_(out_dim, index, sel);
    } catch (const Error& err) {
      throw Error("edit '" + e->id + "': " + err.what());
    } catch (const c10::Error& err) {
      throw Error("edit '" + e->id + "': " + torch_error_text(err));
    }
  }
  return w;
}

TapState run_stage_with_weight_edits(const Generator& generator, std::size_t index, const TapState& in,
                                     const std::vector<const Edit*>& edits, const std::vector<int>& cluster_labels) {
  if (edits.empty()) return generator.run_stage(index, in);
  const auto& taps = generator.taps();
  if (index >= taps.size() || !generator.has_rewritable_kernel(index)) {
    const std::string tap = index < taps.size() ? taps[index].name : std::to_string(index);
    throw Error("edit '" + edits.front()->id + "': tap '" + tap + "' of model " + generator.card().name +
                " is not produced by a layer with weights, so its weights cannot be edited");
  }
  return generator.run_stage_rewritten(index, in, [&](const at::Tensor& kernel, int out_dim) {
    return apply_weight_edits(kernel, out_dim, edits, taps[index], cluster_labels);
  });
}

}  // namespace actmap
