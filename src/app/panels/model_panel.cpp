#include "model_panel.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <filesystem>
#include <random>

#include <imgui.h>

#include "actmap/model/checkpoint_cache.h"
#include "ui_probe.h"

namespace actmap::app {

void ModelPanel::draw(EditorContext& ctx, ModelLibrary& models) {
  const Session& s = ctx.session();
  const std::string current = ModelLibrary::label(is_checkpoint_path(s.model) ? s.model : s.card_path);
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 4);
  if (ImGui::BeginCombo("Model", current.empty() ? "(none)" : current.c_str())) {
    models.draw_items(ctx);
    ImGui::EndCombo();
  }
  tip("Models found in models/, on ACTMAP_MODEL_PATH and among downloaded ones, and cards and checkpoint "
              "files opened or dropped on the window; models of the registry not yet here can be downloaded from this list. "
              "Switching starts a new session on that model.");
  if (!ctx.card_error().empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 110, 110, 255));
    ImGui::TextWrapped("%s", ctx.card_error().c_str());
    ImGui::PopStyleColor();
    return;
  }

  // The seed: type it, step it, or draw a random one.
  if (s.latent.kind == SessionLatent::Kind::Seed) {
    std::uint64_t seed = s.latent.seed;
    const std::uint64_t step = 1;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::InputScalar("Seed", ImGuiDataType_U64, &seed, &step, nullptr, "%llu")) {
      ctx.history().set_latent(SessionLatent::from_seed(seed), "seed-input");
    }
    if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
    probe::item("latent/seed");
    tip("The latent z is drawn from this seed (the same on every machine)");
    ImGui::SameLine();
    if (ImGui::Button("Next")) ctx.set_seed(seed + 1);
    probe::item("latent/next");
    tip("Next seed (N)");
    ImGui::SameLine();
    if (ImGui::Button("Random")) {
      std::random_device rd;
      ctx.set_seed(rd() % 1000000);
    }
    tip("A random seed");
  } else {
    ImGui::Text("Latent: %s", s.latent.describe().c_str());
    ImGui::SameLine();
    if (ImGui::Button("Use a seed")) ctx.set_seed(0);
    tip("Replace the explicit latent by seed 0");
  }

  // The latent's distribution as rendered.
  if (ctx.render.reply() && !ctx.render.reply()->latent.empty()) {
    const std::vector<float>& z = ctx.render.reply()->latent;
    double mean = 0, sq = 0;
    float lo = z[0], hi = z[0];
    for (float v : z) {
      mean += v;
      sq += double(v) * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mean /= double(z.size());
    const double sd = std::sqrt(std::max(0.0, sq / double(z.size()) - mean * mean));
    const float range = std::max({std::abs(lo), std::abs(hi), 1.0f});
    std::vector<float> bins(24, 0.0f);
    for (float v : z) {
      const int b = std::clamp(int((v + range) / (2 * range) * float(bins.size())), 0, int(bins.size()) - 1);
      bins[std::size_t(b)] += 1.0f;
    }
    ImGui::Text("z: %zu values, mean %.3f, sd %.3f", z.size(), mean, sd);
    ImGui::PlotHistogram("##z", bins.data(), int(bins.size()), 0, nullptr, 0.0f, FLT_MAX,
                         ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 3.5f));
    tip("Histogram of the latent's values over [-range, range]");
    ImGui::TextDisabled("range [%.2f, %.2f]", lo, hi);
  }
  const bool cuda = ctx.options.device.rfind("cuda", 0) == 0;
  if (ctx.fp16_resolution() > 0 && cuda) {
    const long long r = static_cast<long long>(ctx.fp16_resolution());
    ImGui::TextDisabled("device: %s, float16 from %lldx%lld", ctx.options.device.c_str(), r, r);
    tip("--fp16: the blocks the model's num_fp16_res names compute in float16, as the original does on NVIDIA GPUs; "
        "the others in float32");
  } else {
    ImGui::TextDisabled("device: %s, float32%s", ctx.options.device.c_str(),
                        ctx.fp16_resolution() > 0 ? " (--fp16: CUDA only)" : "");
  }
}

}  // namespace actmap::app
