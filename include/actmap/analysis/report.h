// Reproducible reports: one self-contained HTML page (with its PNGs beside it, linked relatively)
// that shows what a session does and how to regenerate it. No LibTorch types here.
#pragma once

#include <string>
#include <vector>

#include "actmap/io/progress.h"
#include "actmap/session/session.h"

namespace actmap {

class Renderer;

struct ReportOptions {
  std::string command;      // the exact command that regenerates the report (shown verbatim)
  std::string working_dir;  // where to run it
  int max_channels = 8;     // channel views per edit (the first selected channels)
  bool sweep = true;        // the depth sweep of the last enabled edit
};

struct ReportResult {
  std::string index;               // DIR/index.html
  std::vector<std::string> files;  // every file written, index.html last
};

// Writes DIR/index.html and its images: the model card (its text) and the weights' sha256, the
// latent and synthesis options, then for each enabled edit in order the edited channels of its tap
// before and after it (the edits before it applied) and the output before and after, the depth
// sweep of the last enabled edit, timings, and `options.command`. Creates DIR. Progress counts steps.
ReportResult write_report(Renderer& renderer, const Session& session, const std::string& dir,
                          const ReportOptions& options = {}, const ProgressFn& progress = {});

// Text made safe inside HTML elements and attribute values.
std::string html_escape(const std::string& text);

}  // namespace actmap
