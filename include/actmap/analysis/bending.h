// Network Bending's configurations in and out, read as their authors' code reads them: the YAML
// transform configs of Broad, Leymarie and Grierson (terrybroad/network-bending: `transforms:`,
// the sample-strip config, the cluster dictionaries), the bending report's operation template
// (jasper-zheng/manipulated-network), and Autolume's network-bending presets
// (Metacreation-Lab/autolume), as actmap edits on a StyleGAN2 model. yaml-cpp and the pickle
// reader stay inside the .cpp files. No LibTorch types here. The tables, and the file and line of
// the original code behind each rule, are in docs/research.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actmap/edit/edit.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"

namespace actmap {

// Network Bending's layer numbers count the synthesis convolutions: 0 = b4.conv1, 1 = b8.conv0,
// 2 = b8.conv1, 3 = b16.conv0, ... (model.py, Generator.__init__: layerID). Its transforms act on
// each convolution's output after noise, bias and activation (StyledConv.forward), which is
// actmap's tap of that name; layer 0 is never bent (Generator.forward calls self.conv1 without
// the transforms). Throws for models other than StyleGAN2.
std::vector<std::string> bending_layer_taps(const ModelCard& card);

struct BendingOptions {
  // Network Bending skips what it does not know and goes on; so does the import, with a note for
  // each such thing. Strict: every note is an error.
  bool strict = false;
  // Transform i of a config draws its random features with seed random_seed + i (Network
  // Bending draws anew on every run; with Python's random.seed(s) before a config with one random
  // transform, its draw is the one actmap makes with seed s).
  std::uint64_t random_seed = 0;
  // Instead: every random transform draws from one Python stream seeded with random_seed, in
  // config order, as Network Bending does after random.seed(random_seed) (its util.py draws them
  // one after another), the stream having been through `random_stream` passes over the config
  // (1: one call of create_transforms_dict_list; 2: generate.py, which calls it twice and keeps
  // the second). 0: a seed per transform.
  int random_stream = 0;
};

struct BendingImport {
  std::vector<Edit> edits;                           // validated against the op registry
  std::map<std::string, std::vector<int>> clusters;  // tap -> label per channel (-1: in no cluster)
  std::vector<std::string> notes;                    // what was skipped, ignored or approximated, and why
  std::string format;      // "network_bending", "network_bending_strip", "report_template" or "autolume"
  std::string strip_edit;  // a sample-strip config: the id of its edit (sweep it with --network-bending)
};

// Parses a Network Bending config (a document with `transforms:`), a sample-strip config (one
// transform at the top level, no layer) or the report's template (`layers:`, or a list of such
// blocks) for the StyleGAN2 model `card`. `clusters_text` is a cluster dictionary
// (`LAYER: [{cluster_index: K, feature_index: C}, ...]` as Network Bending's get_clusters.py writes
// it, or `TAP: [label per channel]`; "" for none): only the layers the config selects clusters at
// are read, channels it leaves out are in no cluster (-1), and a cluster with no channels selects
// nothing. Errors and notes are "SOURCE: line N: KEY: what".
BendingImport import_bending(const std::string& text, const std::string& source, const ModelCard& card,
                             const std::string& clusters_text = "", const std::string& clusters_source = "",
                             const BendingOptions& options = {});

// An Autolume preset's network bending: `layer.pkl` of a preset folder (Autolume's
// LayerWidget.save: a pickle of the widget's state), read with actmap's restricted unpickler.
// Its transforms act on the named layers' outputs with Autolume's own conventions
// (bending/transform_layers.py): translate in pixels, erode and dilate by kernel size, flip-h
// flipping rows.
BendingImport import_autolume_preset(const std::vector<std::uint8_t>& pickle, const std::string& source,
                                     const ModelCard& card, const BendingOptions& options = {});

struct BendingExport {
  std::string config;              // the `transforms:` YAML of the expressible edits
  std::string clusters;            // the cluster dictionary of the layers those edits select clusters at ("" if none)
  std::vector<std::string> skipped;  // "e3 (brush at b8.conv0): no Network Bending transform paints"
  std::vector<std::string> notes;    // exported, but Network Bending will not compute quite the same
};

// The session's enabled edits as a Network Bending config, where each one is expressible.
BendingExport export_bending(const Session& session, const ModelCard& card);

// A Network Bending cluster dictionary (the format of get_clusters.py) as session clusters: every
// layer of the dictionary the model has, labels -1 for channels it leaves out; layers beyond the
// model and features beyond a layer's channels are left out with a note.
std::map<std::string, std::vector<int>> read_bending_clusters(const std::string& text, const std::string& source,
                                                              const ModelCard& card, std::vector<std::string>* notes);

// The session's clusters at Network Bending's layers as its dictionary format (channels in no
// cluster left out); `taps` empty: every layer with clusters.
std::string write_bending_clusters(const Session& session, const ModelCard& card, const std::vector<std::string>& taps = {});

}  // namespace actmap
