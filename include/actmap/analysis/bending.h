// Network Bending's configurations in and out: the YAML transform configs of Broad, Leymarie and
// Grierson (`transforms:` with their layer numbers and op names) with their cluster dictionaries,
// and the bending report's operation template (`resolution`, `install_after`, `layers:`), as
// actmap edits on a StyleGAN2 model. yaml-cpp stays inside bending.cpp. No LibTorch types here.
// The mapping tables are in docs/research.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "actmap/edit/edit.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"

namespace actmap {

// Network Bending's layer numbers count the synthesis convolutions: 0 = b4.conv1, 1 = b8.conv0,
// 2 = b8.conv1, 3 = b16.conv0, ... Its transforms sit after each convolution's activation, which
// is where actmap's tap of that name is. Errors name the layer and the model's range.
std::vector<std::string> bending_layer_taps(const ModelCard& card);

struct BendingImport {
  std::vector<Edit> edits;                           // validated against the op registry
  std::map<std::string, std::vector<int>> clusters;  // tap -> label per channel (from the dictionary)
  std::vector<std::string> notes;                    // what was approximated or left out
};

// Parses either format (a document with `transforms:` is a Network Bending config, one with
// `layers:` the report's template) for the StyleGAN2 model `card`. `clusters_text` is Network
// Bending's cluster dictionary (`LAYER: [{cluster_index: K, feature_index: C}, ...]`, "" for none);
// channels a dictionary leaves out get a label of their own (one past the largest). Errors are
// actmap::Error "SOURCE: line N: KEY: what".
BendingImport import_bending(const std::string& text, const std::string& source, const ModelCard& card,
                             const std::string& clusters_text = "", const std::string& clusters_source = "");

struct BendingExport {
  std::string config;              // the `transforms:` YAML of the expressible edits
  std::string clusters;            // the cluster dictionary of the taps those edits select clusters at ("" if none)
  std::vector<std::string> skipped;  // "e3 (brush at b8.conv0): no Network Bending transform paints"
};

// The session's enabled edits as a Network Bending config, where each one is expressible.
BendingExport export_bending(const Session& session, const ModelCard& card);

}  // namespace actmap
