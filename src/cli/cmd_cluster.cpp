// actmap-cli cluster: group a tap's channels by their spatial activation patterns (k-means).
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/analysis/bending.h"
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
    std::string tap, out, session, method = "mean_map", from_nb, dict_out;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "cluster",
      "Cluster a tap's channels by their mean spatial activation maps over seeded latents (k-means with\n"
      "k-means++ starts, several restarts, the lowest inertia kept), and print the silhouette score of\n"
      "every k from 2 to 8 to guide the choice (docs/clustering.md). Edits then select a cluster with\n"
      "\"channels\": {\"cluster\": K}.\n"
      "  actmap-cli cluster -m faces64 --tap main.8 -o clusters.json\n"
      "  actmap-cli cluster --session s.json --tap main.8 --k 4     writes the labels into s.json\n"
      "  actmap-cli cluster --session s.json --tap b32.conv0 --method network_bending --truncation 0.5 --samples 1000\n"
      "  actmap-cli cluster --session s.json --from-network-bending cluster_dict.yaml   Network Bending's clusters");
  add_model_options(*cmd, opts->model);
  auto* tap = cmd->add_option("--tap", opts->tap, "The tap whose channels to cluster (actmap-cli layers lists them)");
  cmd->add_option("--k", opts->cluster.k,
                  "Number of clusters (default by depth: 5 early, 4 middle, 3 late; network_bending: its table by layer, "
                  "5 for layers 1-8, 4 for 9-12, 3 for 13-16)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--method", opts->method,
                  "mean_map: each channel's mean map over the samples; network_bending: each sample's map described, "
                  "the descriptors averaged over the samples, k by Network Bending's layer table (docs/clustering.md)")
      ->check(CLI::IsMember({"mean_map", "network_bending"}))->capture_default_str();
  cmd->add_option("--truncation", opts->cluster.truncation_psi,
                  "Truncation psi of the sampled latents (StyleGAN2; Network Bending samples at 0.5)")
      ->check(CLI::Range(-10.0, 10.0))->capture_default_str();
  cmd->add_option("--samples", opts->cluster.samples, "Latents (seeds SEED, SEED+1, ...) the mean maps average over")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->cluster.seed, "First seed of the latents; also seeds k-means")->capture_default_str();
  cmd->add_option("--restarts", opts->cluster.restarts, "k-means runs per k; the lowest inertia wins")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--batch", opts->cluster.batch, "Latents per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  auto* out = cmd->add_option("-o,--out", opts->out, "Write {\"clusters\": {TAP: [label per channel]}, ...} to this JSON file");
  cmd->add_option("--session", opts->session, "Write the labels into this session (atomically; its model is used)")->excludes(out);
  cmd->add_option("--dict-out", opts->dict_out,
                  "Also write the labels as Network Bending's cluster dictionary (LAYER: [{cluster_index, feature_index}])");
  cmd->add_option("--from-network-bending", opts->from_nb,
                  "Put the layers of a Network Bending cluster dictionary (get_clusters.py's output) into the session "
                  "(--session) instead of clustering; channels it leaves out are in no cluster")
      ->excludes(tap)->excludes(out);
  cmd->callback([opts, cmd] {
    if (!opts->from_nb.empty()) {
      if (opts->session.empty()) throw Error("--from-network-bending: give the session to write the clusters into (--session)");
      Session session = load_session(opts->session);
      const ModelCard card = load_model_card(session.card_path);
      std::vector<std::string> notes;
      const auto clusters = read_bending_clusters(read_file_text(opts->from_nb), opts->from_nb, card, &notes);
      for (const auto& n : notes) std::cerr << "note: " << n << "\n";
      for (const auto& [t, labels] : clusters) session.clusters[t] = labels;
      check_session_against_card(session, card);
      save_session(session, opts->session);
      std::cout << "wrote the clusters of " << clusters.size() << " layer" << (clusters.size() == 1 ? "" : "s") << " into "
                << opts->session << "\n";
      return;
    }
    if (opts->tap.empty()) throw Error("--tap: give the tap whose channels to cluster (or --from-network-bending)");
    opts->cluster.method = opts->method == "network_bending" ? ClusterMethod::NetworkBending : ClusterMethod::MeanMap;
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

    if (!opts->dict_out.empty()) {
      Session labels;
      labels.clusters[opts->tap] = r.labels;
      const std::string dict = write_bending_clusters(labels, gen->card(), {opts->tap});
      if (dict.empty()) throw Error("--dict-out: " + opts->tap + " is not one of Network Bending's layers (the synthesis convolutions)");
      write_file_atomic(opts->dict_out, dict);
      std::cout << "wrote " << opts->dict_out << "\n";
    }
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
