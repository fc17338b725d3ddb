// Any text: a Network Bending config (or the report's template, or a cluster dictionary) imports
// into edits on the 16x16 StyleGAN2 test card, or throws actmap::Error; what imports exports again.
// Any bytes as an Autolume preset: the same.
#include <cstdint>
#include <string>
#include <vector>

#include "actmap/analysis/bending.h"
#include "actmap/io/error.h"
#include "actmap/model/model_card.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  actmap::set_warning_sink([](const std::string&) {});
  static const actmap::ModelCard card = actmap::load_model_card(ACTMAP_FUZZ_STYLEGAN2_CARD);
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The text as the config, without and with itself as the cluster dictionary.
  for (const std::string& clusters : {std::string(), text}) {
    try {
      const actmap::BendingImport in = actmap::import_bending(text, "fuzz.yaml", card, clusters, "fuzz-clusters.yaml");
      actmap::Session s;
      s.edits = in.edits;
      s.clusters = in.clusters;
      actmap::export_bending(s, card);
    } catch (const actmap::Error&) {
    }
  }
  // The bytes as an Autolume preset (a pickle), strictly and not.
  for (const bool strict : {false, true}) {
    try {
      actmap::BendingOptions options;
      options.strict = strict;
      actmap::import_autolume_preset(std::vector<std::uint8_t>(data, data + size), "fuzz.pkl", card, options);
    } catch (const actmap::Error&) {
    }
  }
  return 0;
}
