// Applies a tap's edits in order: channel selection, the op's kernel (op_kernels.cpp), the
// optional renormalisation and the spatial mask, then the selection is written back.
#include <cmath>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/edit/apply_edits.h"
#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "edit/op_kernels.h"
#include "model/torch_util.h"

using nlohmann::json;

namespace actmap {
namespace {

// The mask's weights [H, W] in [0, 1] for a tap of h x w pixels, in like's dtype and device.
at::Tensor mask_weights(const SpatialMask& mask, std::int64_t h, std::int64_t w, const at::Tensor& like) {
  const auto opts = like.options().dtype(at::kDouble);
  const at::Tensor c = at::arange(w, opts).view({1, w}), r = at::arange(h, opts).view({h, 1});
  at::Tensor m;
  switch (mask.kind) {
    case SpatialMask::Kind::None:
      return {};
    case SpatialMask::Kind::Rect: {
      const auto& s = mask.shape;
      m = ((c >= s[0]) & (c <= s[2]) & (r >= s[1]) & (r <= s[3])).to(at::kDouble);
      break;
    }
    case SpatialMask::Kind::Ellipse: {
      const auto& s = mask.shape;
      const at::Tensor u = (c - s[0]) / s[2], v = (r - s[1]) / s[3];
      m = (u * u + v * v <= 1.0).to(at::kDouble);
      break;
    }
    case SpatialMask::Kind::Values:
    case SpatialMask::Kind::File: {
      if (mask.height <= 0 || mask.width <= 0 ||
          static_cast<std::int64_t>(mask.values.size()) != mask.height * mask.width) {
        throw Error("the mask's values do not fill " + std::to_string(mask.height) + " x " + std::to_string(mask.width));
      }
      std::vector<double> values(mask.values.begin(), mask.values.end());
      m = at::tensor(values, at::kDouble).to(like.device()).view({1, 1, mask.height, mask.width});
      // Each axis on its own: an area average where it shrinks, bilinear (edges repeat) where it grows.
      if (h < mask.height || w < mask.width) {
        m = at::adaptive_avg_pool2d(m, {std::min(h, mask.height), std::min(w, mask.width)});
      }
      if (h > m.size(2) || w > m.size(3)) m = at::upsample_bilinear2d(m, {h, w}, /*align_corners=*/false);
      m = m.view({h, w});
      break;
    }
  }
  if (mask.invert) m = 1.0 - m;
  return m.to(like.scalar_type());
}

// In place: each map of y [N, k, H, W] gets the mean and population standard deviation the same
// map of `before` had: (y - mean y) / std y * std before + mean before. Where y is constant (to
// rounding) the result is the constant mean before.
void renormalize(at::Tensor& y, const at::Tensor& before) {
  const double pixels = static_cast<double>(before.size(2) * before.size(3));
  const at::Tensor mean_before = before.mean({2, 3}, /*keepdim=*/true);
  // Norms of the centred maps: both standard deviations times sqrt(pixels), which cancels.
  const at::Tensor norm_before = at::linalg_vector_norm(before - mean_before, 2, at::IntArrayRef{2, 3}, true);
  const at::Tensor mean_y = y.mean({2, 3}, true);
  y.sub_(mean_y);
  const at::Tensor norm_y = at::linalg_vector_norm(y, 2, at::IntArrayRef{2, 3}, true);
  // A constant map's mean is only rounded to a few ulps: treat a tiny relative spread as none.
  const double relative = y.scalar_type() == at::kDouble ? 1e-12 : 1e-6;
  const at::Tensor varies = norm_y > mean_y.abs() * (relative * std::sqrt(pixels));
  y.mul_(at::where(varies, norm_before / norm_y, 0.0)).add_(mean_before);
}

// Edits parsed from JSON carry every parameter; one built in code may leave some out.
bool has_every_param(const Edit& e) {
  const OpSpec* spec = find_op(e.op);
  if (!spec || !e.params.is_object()) return false;
  for (const auto& p : spec->params) {
    if (!e.params.contains(p.name)) return false;
  }
  return true;
}

}  // namespace

at::Tensor apply_edits(const at::Tensor& x, const std::vector<const Edit*>& edits, const TapInfo& tap,
                       const std::vector<int>& cluster_labels, const LatentContext* latent) {
  if (edits.empty()) return x;
  if (x.dim() != 4) {
    throw Error("edit '" + edits.front()->id + "': tap '" + tap.name + "' has an activation of shape " +
                shape_string(x.sizes()) + "; edits need [N, C, H, W]");
  }
  c10::InferenceMode guard;
  at::Tensor out = x;
  bool owned = false;  // out is our own copy (never write into x)
  const std::int64_t channel_count = x.size(1), h = x.size(2), w = x.size(3);
  for (const Edit* e : edits) {
    try {
      const OpSpec* spec = find_op(e->op);
      if (spec && spec->category == "weight") {
        throw Error("op '" + e->op + "' edits the weights of the layer producing the tap; the renderer applies it");
      }
      if (spec && spec->category == "latent" && (!latent || !latent->generator || !latent->generator->has_mapping() ||
                                                  tap.name != "mapping")) {
        throw Error("op '" + e->op + "' edits W+ and works only at the tap \"mapping\" of a StyleGAN2 model");
      }
      const OpKernel kernel = find_op_kernel(e->op);
      if (!kernel) throw Error("op '" + e->op + "' has no implementation");
      json filled;  // not copied when complete: a stroke may hold many points
      const json& params = has_every_param(*e) ? e->params : (filled = validate_op_params(e->op, e->params, ""));
      std::vector<std::int64_t> channels = e->channels.resolve(channel_count, tap.name, cluster_labels);
      if (e->op == "w_swap" && params.at("show").get<std::string>() == "other") {
        // The other latent keeps this one's selected rows: every other row comes from it.
        std::vector<std::int64_t> rest;
        for (std::int64_t c = 0, i = 0; c < channel_count; ++c) {
          if (i < static_cast<std::int64_t>(channels.size()) && channels[static_cast<std::size_t>(i)] == c) ++i;
          else rest.push_back(c);
        }
        channels = std::move(rest);
      }
      if (channels.empty()) continue;  // a missing cluster or an empty random draw: nothing to do
      const bool all = static_cast<std::int64_t>(channels.size()) == channel_count;
      const at::Tensor index = all ? at::Tensor() : at::tensor(channels, at::kLong).to(x.device());
      const at::Tensor before = all ? out : out.index_select(1, index);
      at::Tensor y = kernel(OpArgs{before, out, x, index, channels, params, latent});
      if (y.is_same(before)) continue;  // nothing changed
      // Renormalising and masking work in place: never on memory the caller or the cache owns.
      if (y.is_alias_of(before) || y.is_alias_of(out) || y.is_alias_of(x)) y = y.clone();
      if (params.at("renormalize").get<bool>()) renormalize(y, before);
      if (!e->mask.empty()) {
        const at::Tensor m = mask_weights(e->mask, h, w, y);
        y.mul_(m).addcmul_(before, 1.0 - m);  // exact where m is 0 or 1
      }
      if (all) {
        out = std::move(y);
        owned = true;
      } else {
        if (!owned) out = out.clone();
        owned = true;
        out.index_copy_(1, index, y);
      }
    } catch (const Error& err) {
      throw Error("edit '" + e->id + "': " + err.what());
    } catch (const c10::Error& err) {
      throw Error("edit '" + e->id + "': " + torch_error_text(err));
    } catch (const json::exception& err) {  // parameters of a programmatically built edit
      throw Error("edit '" + e->id + "': bad parameters " + e->params.dump() + ": " + err.what());
    }
  }
  return owned ? out : x.clone();
}

}  // namespace actmap
