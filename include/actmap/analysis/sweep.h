// Depth sweeps: one edit applied at every tap of the model in turn, to see what the same change
// means near the latent and near the image. No LibTorch types here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actmap/edit/edit.h"
#include "actmap/io/image.h"
#include "actmap/io/progress.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"

namespace actmap {

class Renderer;

// The edit moved from tap `from` to tap `to`, or nothing (and `why`) where the op cannot act there:
//  - W+ ops (category "latent") act only at the tap "mapping";
//  - at "mapping" (W+ rows, 1 pixel wide) only value and channel ops without a mask act
//    (no paint, geometry, filter, sin_disrupt);
//  - coordinates are rescaled by the ratio s = W'/W (and H'/H): points (strokes, an ellipse's
//    centre) pixel centre to pixel centre, x' = (x + 0.5) s - 0.5; the inclusive bounds of rect
//    ops and rect masks so the same area is covered, x0' = x0 s - 0.5, x1' = (x1 + 1) s - 0.5;
//    brush and ellipse radii times s; value and file masks resample themselves; filter sizes and
//    the remaining parameters stay as they are;
//  - channel selectors "all" and {"random"} stay; a list, range or cluster (resolved with
//    `from_labels`) is mapped by fraction: channel c of C becomes the channels
//    floor(c * C' / C) .. max(floor(c * C' / C), ceil((c + 1) * C' / C) - 1) of C', so the same
//    share of the channel range is selected and every channel maps to at least one.
std::optional<Edit> move_edit(const Edit& edit, const TapInfo& from, const TapInfo& to, bool stylegan2,
                              const std::vector<int>& from_labels, std::string* why);

struct SweepStep {
  TapInfo tap;
  bool applied = false;
  std::string skipped;     // why not, when not applied
  Edit edit;               // the moved edit (when applied)
  double mean_abs_change = 0.0;  // of 8-bit output pixels (per colour channel) against the unedited output
  Image output;            // RGB (when applied)
  double ms = 0.0;         // the render from that tap on
};

struct SweepResult {
  std::string edit_id, source_tap;
  Image baseline;  // the session's output without the swept edit
  std::vector<SweepStep> steps;  // one per tap, in the model's order
  double total_ms = 0.0;
};

struct SweepOptions {
  // Only these taps (in the model's order); empty: every tap.
  std::vector<std::string> taps;
  // Network Bending's sample strip (generate_sample_strips.py): its layers only, the synthesis
  // convolutions b4.conv1, b8.conv0, b8.conv1, ...; layer 0 (b4.conv1) is shown unbent, as
  // Network Bending never bends it. StyleGAN2 models only.
  bool network_bending = false;
};

// Renders the session without the edit `edit_id` (the baseline), then with the edit moved to each
// tap in turn (the session's other enabled edits stay). Taps are visited from the output back to
// the latent, so each render re-runs only from its own tap (the renderer's cache holds the rest).
// Progress counts taps. Throws actmap::Error naming the edit when there is none with that id, or
// a tap of `options.taps` the model does not have.
SweepResult sweep_edit(Renderer& renderer, const Session& session, const std::string& edit_id,
                       const ProgressFn& progress = {}, const SweepOptions& options = {});

// The labelled strip: the baseline, then one tile per tap (tap name, H x W x C, the mean change
// drawn as text and as a bar under each; skipped taps greyed with the reason). `tile` is the
// output's side in pixels (0: at least 96, a whole multiple of the output size).
Image sweep_strip(const SweepResult& sweep, int tile = 0, int columns = 8);

// tap,height,width,channels,applied,mean_abs_change,ms,note
std::string sweep_csv(const SweepResult& sweep);

}  // namespace actmap
