// actmap-cli layers: the taps of a model and their shapes.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actmap/model/model_card.h"
#include "cli_common.h"

namespace actmap::cli {

void register_layers(CLI::App& app) {
  struct Options {
    std::string model = "ffhq64-vae";
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("layers", "List a model's taps (name, channels, height, width, depth)");
  cmd->add_option("-m,--model", opts->model, "Model card: a path or a name")->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print JSON instead of a table");
  cmd->callback([opts] {
    // Taps come from the card alone: no weights are read.
    const ModelCard card = load_model_card(resolve_model_card(opts->model));
    const std::vector<Stage> stages = plan_stages(card);
    if (opts->json) {
      nlohmann::json out = {{"model", card.name}, {"family", card.family}, {"latent", {{"size", card.latent.size},
                            {"distribution", latent_distribution_name(card.latent.distribution)}}}};
      out["taps"] = nlohmann::json::array();
      for (const auto& s : stages) {
        out["taps"].push_back({{"name", s.tap.name}, {"channels", s.tap.channels}, {"height", s.tap.height},
                               {"width", s.tap.width}, {"depth", s.tap.depth}});
      }
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::printf("%s (%s), latent %lld %s\n", card.name.c_str(), card.family.c_str(),
                static_cast<long long>(card.latent.size), latent_distribution_name(card.latent.distribution));
    std::printf("%5s  %-28s %8s %6s %6s\n", "depth", "tap", "channels", "height", "width");
    for (const auto& s : stages) {
      std::printf("%5d  %-28s %8lld %6lld %6lld%s\n", s.tap.depth, s.tap.name.c_str(),
                  static_cast<long long>(s.tap.channels), static_cast<long long>(s.tap.height),
                  static_cast<long long>(s.tap.width), &s == &stages.back() ? "  (output)" : "");
    }
  });
}

}  // namespace actmap::cli
