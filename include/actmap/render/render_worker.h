// The renderer on its own thread, for the editor: the UI thread submits stamped requests and
// never waits for the model. Only the newest request is kept (a newer one replaces one that has
// not started), replies carry their request's stamp, and nothing thrown inside reaches the UI:
// errors come back in the reply. No LibTorch types here, so GUI code includes it cheaply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actmap/io/image.h"
#include "actmap/model/model_card.h"
#include "actmap/render/channel_view.h"
#include "actmap/session/session.h"

namespace actmap {

// One tap the window shows: its channel grid and, optionally, one channel at full resolution.
struct TapViewRequest {
  std::size_t tap = 0;
  ViewOptions options;
  int focus_channel = -1;  // -1: none
  bool operator==(const TapViewRequest& o) const;
};

struct RenderRequest {
  Session session;  // the card (card_path), latent, edits and clusters to render
  std::string device = "cpu";
  std::vector<TapViewRequest> views;
  bool overview = true;  // a small channel-mean map of every tap (the layer list's previews)
  bool original = true;  // also the output with no edits
  // When views or the overview are asked for, first send a reply with only the output, the
  // original and the latent (`partial`), then the whole reply under the same stamp: the picture
  // reaches the screen without waiting for the colour mapping of every layer.
  bool output_first = true;
};

struct TapView {
  TapViewRequest request;
  ChannelGrid grid;    // of the edited activation
  Image focus;         // the focus channel at full resolution (RGBA), same colour range as the grid
  ChannelStats focus_stats;
};

struct RenderReply {
  std::uint64_t stamp = 0;
  std::string error;          // empty when the render worked
  std::string card_path;      // what was rendered
  std::string device;
  std::vector<TapInfo> taps;  // of the model
  std::vector<float> latent;  // z as rendered
  Image output;               // RGB, exactly what actmap-cli render writes for the session
  Image original;             // RGB, the same latent with no edits (when requested)
  std::vector<TapView> views;
  std::vector<Image> overview;  // per tap (when requested): RGBA mean map, at most 32 px a side
  std::size_t first_stage = 0;  // where the forward pass started (0: everything re-ran)
  double load_ms = 0.0;         // loading the model, when this request had to
  double render_ms = 0.0;       // the forward pass with edits
  double view_ms = 0.0;         // colour mapping of what is visible
  double total_ms = 0.0;        // from the worker picking the request up to the reply
  bool partial = false;         // output, original and latent only: the views follow, same stamp
  bool ok() const { return error.empty(); }
};

class RenderWorker {
 public:
  // `on_reply` runs on the worker thread whenever a reply is ready (e.g. to wake an event loop).
  // `nice` lowers the thread's priority (Linux): the interface's thread keeps its frames when the
  // cores are short; a background worker (the editor's seed strip) goes lower still.
  explicit RenderWorker(std::function<void()> on_reply = {}, int nice = 4);
  ~RenderWorker();  // finishes the running request, drops a pending one, joins
  RenderWorker(const RenderWorker&) = delete;
  RenderWorker& operator=(const RenderWorker&) = delete;

  // Queues a request and returns its stamp (1, 2, ...). A pending request not yet started is
  // dropped in its favour.
  std::uint64_t submit(RenderRequest request);
  // The newest reply not taken yet. Replies older than one already taken are never returned; the
  // whole reply of a stamp may follow its partial one (RenderRequest::output_first).
  std::optional<RenderReply> take();
  // Whether a request is pending or running.
  bool busy() const;
  // Whether a reply waits for take().
  bool has_reply() const;
  // Blocks until nothing is pending or running, or `timeout_s` passed; true when idle.
  bool wait_idle(double timeout_s) const;
  std::uint64_t dropped() const;  // requests replaced before they started
  // Asked (on the worker thread) before every stage of a render: when it returns true the render
  // stops and its reply's error is "interrupted" (e.g. a background worker giving way to the
  // editor's main one). Thread-safe to set at any time.
  void set_interrupt(std::function<bool()> interrupt);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace actmap
