// actmap-cli cluster: group a tap's channels by their spatial activation patterns (k-means).
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/analysis/clustering.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "actmap/session/session.h"
#include "cli_common.h"

namespace actmap::cli {

void register_cluster(CLI::App& app) {
  struct Options {
    ModelOptions model;
    ClusterOptions cluster;
    std::string tap, out, session;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "cluster",
      "Cluster a tap's channels by their mean spatial activation maps over seeded latents (k-means with\n"
      "k-means++ starts, several restarts, the lowest inertia kept), and print the silhouette score of\n"
      "every k from 2 to 8 to guide the choice (docs/clustering.md). Edits then select a cluster with\n"
      "\"channels\": {\"cluster\": K}.\n"
      "  actmap-cli cluster -m faces64 --tap main.8 -o clusters.json\n"
      "  actmap-cli cluster --session s.json --tap main.8 --k 4     writes the labels into s.json");
  add_model_options(*cmd, opts->model);
  cmd->add_option("--tap", opts->tap, "The tap whose channels to cluster (actmap-cli layers lists them)")->required();
  cmd->add_option("--k", opts->cluster.k, "Number of clusters (default by depth: 5 early, 4 middle, 3 late)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--samples", opts->cluster.samples, "Latents (seeds SEED, SEED+1, ...) the mean maps average over")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->cluster.seed, "First seed of the latents; also seeds k-means")->capture_default_str();
  cmd->add_option("--restarts", opts->cluster.restarts, "k-means runs per k; the lowest inertia wins")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--batch", opts->cluster.batch, "Latents per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  auto* out = cmd->add_option("-o,--out", opts->out, "Write {\"clusters\": {TAP: [label per channel]}, ...} to this JSON file");
  cmd->add_option("--session", opts->session, "Write the labels into this session (atomically; its model is used)")->excludes(out);
  cmd->callback([opts, cmd] {
    std::optional<Session> session;
    const std::shared_ptr<const Generator> gen = open_session_or_model(opts->session, opts->model, cmd->count("--model") > 0, session);
    gen->tap_index(opts->tap);  // a bad tap fails before any work
    ClusterResult r;
    {
      ProgressBar progress("cluster " + opts->tap);
      r = cluster_tap(*gen, opts->tap, opts->cluster, std::ref(progress));
    }
    const TapInfo& info = gen->taps()[gen->tap_index(opts->tap)];
    std::printf("%s: %lld channels of %lldx%lld, %d samples, descriptors %dx%d; default k %d\n", opts->tap.c_str(),
                static_cast<long long>(info.channels), static_cast<long long>(info.height), static_cast<long long>(info.width),
                opts->cluster.samples, r.map_height, r.map_width, r.default_k);
    std::printf("   k  silhouette  inertia\n");
    const ClusterChoice* best = nullptr;
    for (const auto& c : r.per_k) {
      if (c.k >= 2 && (!best || c.silhouette > best->silhouette)) best = &c;
    }
    for (const auto& c : r.per_k) {
      std::printf("%4d  %10.4f  %7.3f%s%s\n", c.k, c.silhouette, c.inertia, c.k == r.k ? "  <- chosen" : "",
                  &c == best ? "  (highest silhouette)" : "");
    }
    std::vector<int> sizes(static_cast<std::size_t>(r.k), 0);
    for (int l : r.labels) ++sizes[static_cast<std::size_t>(l)];
    std::printf("k %d, cluster sizes:", r.k);
    for (int n : sizes) std::printf(" %d", n);
    std::printf("\n");

    if (session) {
      session->clusters[opts->tap] = r.labels;
      check_session_against_card(*session, gen->card());
      save_session(*session, opts->session);
      std::cout << "wrote the clusters of " << opts->tap << " into " << opts->session << "\n";
    } else if (!opts->out.empty()) {
      nlohmann::json silhouette = nlohmann::json::array();
      for (const auto& c : r.per_k) silhouette.push_back({{"k", c.k}, {"silhouette", c.silhouette}, {"inertia", c.inertia}});
      const nlohmann::json doc = {{"model", gen->card().path},
                                  {"tap", opts->tap},
                                  {"k", r.k},
                                  {"samples", opts->cluster.samples},
                                  {"seed", opts->cluster.seed},
                                  {"restarts", opts->cluster.restarts},
                                  {"silhouette", silhouette},
                                  {"clusters", {{opts->tap, r.labels}}}};
      write_file_atomic(opts->out, doc.dump(2) + "\n");
      std::cout << "wrote " << opts->out << "\n";
    }
  });
}

}  // namespace actmap::cli
