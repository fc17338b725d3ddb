// The editor's renderer thread: newest request wins, stamps, errors in replies, same pixels as
// render_session. Also run under ThreadSanitizer (the tsan preset).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <ATen/Context.h>

#include "actmap/render/render_worker.h"
#include "actmap/render/renderer.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

Session fixture_session(std::uint64_t seed) {
  Session s = new_session(test::fixture("dcgan32/card.json"));
  s.latent = SessionLatent::from_seed(seed);
  return s;
}

RenderRequest request_for(const Session& s) {
  RenderRequest r;
  r.session = s;
  TapViewRequest v;
  v.tap = 1;  // main.5: 16 x 8 x 8
  v.focus_channel = 3;
  r.views.push_back(v);
  return r;
}

RenderReply wait_reply(RenderWorker& w) {
  EXPECT_TRUE(w.wait_idle(60.0));
  std::optional<RenderReply> r = w.take();
  EXPECT_TRUE(r.has_value());
  return r ? *r : RenderReply{};
}

TEST(RenderWorker, ReplyMatchesRenderSession) {
  Session s = fixture_session(5);
  s.edits.push_back(Edit::from_json({{"id", "a"}, {"tap", "main.5"}, {"op", "multiply"}, {"params", {{"factor", -2.0}}}, {"channels", 3}}, "e"));
  RenderWorker w;
  const std::uint64_t stamp = w.submit(request_for(s));
  const RenderReply r = wait_reply(w);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stamp, stamp);

  // The same pixels as the CLI's path through render_session.
  Renderer direct(load_generator(load_model_card(s.card_path)));
  const Image expect = output_to_images(render_session(direct, s).output, direct.generator().card()).at(0);
  EXPECT_EQ(r.output.pixels, expect.pixels);
  Session plain = s;
  plain.edits.clear();
  Renderer fresh(load_generator(load_model_card(s.card_path)));
  EXPECT_EQ(r.original.pixels, output_to_images(render_session(fresh, plain).output, fresh.generator().card()).at(0).pixels);
  EXPECT_NE(r.output.pixels, r.original.pixels);  // the edit shows

  ASSERT_EQ(r.taps.size(), 4u);
  ASSERT_EQ(r.views.size(), 1u);
  EXPECT_EQ(r.views[0].grid.channels, 16);
  EXPECT_EQ(r.views[0].focus.width, 8);
  EXPECT_EQ(r.views[0].focus.height, 8);
  // Channel 3 was multiplied by -2 after the tap: its stats are those of the edited activation.
  const float lo = direct.activation(1)[0][3].min().item<float>(), hi = direct.activation(1)[0][3].max().item<float>();
  EXPECT_FLOAT_EQ(r.views[0].focus_stats.min, lo);
  EXPECT_FLOAT_EQ(r.views[0].focus_stats.max, hi);
  EXPECT_EQ(r.overview.size(), 4u);
  EXPECT_EQ(r.latent.size(), 12u);
}

// A background worker gives way: asked to stop, its render ends as "interrupted"; asked nothing,
// the next one renders in full. The original (no edits) and the layer previews of a later reply
// match a fresh render: what the worker keeps between replies stays right across seeds and edits.
TEST(RenderWorker, InterruptedRendersAndKeptOriginalsAndPreviews) {
  RenderWorker w;
  std::atomic<bool> stop{true};
  w.set_interrupt([&] { return stop.load(); });
  w.submit(request_for(fixture_session(5)));
  const RenderReply interrupted = wait_reply(w);
  EXPECT_EQ(interrupted.error, "interrupted");
  stop = false;

  Renderer fresh(load_generator(load_model_card(fixture_session(5).card_path)));
  const Edit bend = Edit::from_json({{"id", "a"}, {"tap", "main.5"}, {"op", "multiply"}, {"params", {{"factor", -2.0}}}, {"channels", 3}}, "e");
  const Edit later = Edit::from_json({{"id", "b"}, {"tap", "main.8"}, {"op", "add"}, {"params", {{"value", 1.0}}}, {"channels", "all"}}, "e");
  const std::vector<std::pair<std::uint64_t, std::vector<Edit>>> steps = {
      {5, {bend}}, {5, {bend, later}}, {6, {bend, later}}, {6, {}}, {7, {later}}};
  for (const auto& [seed, edits] : steps) {
    Session s = fixture_session(seed);
    s.edits = edits;
    w.submit(request_for(s));
    const RenderReply r = wait_reply(w);
    ASSERT_TRUE(r.ok()) << r.error;
    Session plain = s;
    plain.edits.clear();
    EXPECT_EQ(r.original.pixels, output_to_images(render_session(fresh, plain).output, fresh.generator().card()).at(0).pixels)
        << "seed " << seed << ", " << edits.size() << " edits";
    // The previews are those of the edited activations of this render.
    Renderer direct(load_generator(load_model_card(s.card_path)));
    render_session(direct, s);
    ASSERT_EQ(r.overview.size(), r.taps.size());
    for (std::size_t i = 0; i < r.taps.size(); ++i) {
      const at::Tensor& act = direct.activation(i);
      ViewOptions o;
      o.colormap = Colormap::Viridis;
      o.normalize = Normalize::PerChannel;
      o.max_cell = 32;
      o.histogram_bins = 1;
      EXPECT_EQ(r.overview[i].pixels, channel_grid(act[0].mean(0, true), o).atlas.pixels) << "tap " << i << ", seed " << seed;
    }
  }
}

TEST(RenderWorker, TheOutputComesFirstAndTheViewsFollowUnderTheSameStamp) {
  // The worker's reply callback runs on its thread: take each reply there, as soon as it is kept.
  std::vector<RenderReply> seen;
  RenderWorker* worker = nullptr;
  std::mutex m;
  RenderWorker w([&] {
    std::lock_guard<std::mutex> lock(m);
    if (worker)
      if (auto r = worker->take()) seen.push_back(std::move(*r));
  });
  {
    std::lock_guard<std::mutex> lock(m);
    worker = &w;
  }
  Session s = fixture_session(7);
  s.edits.push_back(Edit::from_json({{"id", "a"}, {"tap", "main.5"}, {"op", "multiply"}, {"params", {{"factor", 3.0}}}, {"channels", 2}}, "e"));
  // The callback runs after the worker turns idle: wait for it as well.
  const auto replies_seen = [&](std::size_t n) {
    EXPECT_TRUE(w.wait_idle(60.0));
    for (int i = 0; i < 5000; ++i) {
      {
        std::lock_guard<std::mutex> lock(m);
        if (seen.size() >= n) return seen.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard<std::mutex> lock(m);
    return seen.size();
  };
  const std::uint64_t stamp = w.submit(request_for(s));
  ASSERT_EQ(replies_seen(2), 2u);
  std::lock_guard<std::mutex> lock(m);
  const RenderReply& first = seen[0];
  const RenderReply& whole = seen[1];
  EXPECT_EQ(first.stamp, stamp);
  EXPECT_EQ(whole.stamp, stamp);
  EXPECT_TRUE(first.partial);
  EXPECT_FALSE(whole.partial);
  EXPECT_TRUE(first.views.empty());
  EXPECT_TRUE(first.overview.empty());
  EXPECT_EQ(whole.views.size(), 1u);
  EXPECT_EQ(whole.overview.size(), whole.taps.size());
  EXPECT_EQ(first.output.pixels, whole.output.pixels);
  EXPECT_EQ(first.original.pixels, whole.original.pixels);
  EXPECT_EQ(first.latent, whole.latent);
  EXPECT_FALSE(w.take().has_value());
}

TEST(RenderWorker, WithoutViewsThereIsOneReply) {
  std::atomic<int> replies{0};
  RenderWorker w([&] { ++replies; });
  RenderRequest bare;
  bare.session = fixture_session(7);
  bare.overview = false;
  w.submit(bare);
  const RenderReply r = wait_reply(w);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.partial);
  for (int i = 0; i < 5000 && replies == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(replies, 1);
}

TEST(RenderWorker, NewestRequestWinsAndStaleRepliesAreDropped) {
  RenderWorker w;
  std::uint64_t last = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) last = w.submit(request_for(fixture_session(seed)));
  const RenderReply r = wait_reply(w);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.stamp, last);  // whatever ran in between, the reply left is the newest
  EXPECT_GT(w.dropped(), 0u);
  EXPECT_FALSE(w.take().has_value());

  Renderer direct(load_generator(load_model_card(test::fixture("dcgan32/card.json"))));
  const Image expect = output_to_images(render_session(direct, fixture_session(39)).output, direct.generator().card()).at(0);
  EXPECT_EQ(r.output.pixels, expect.pixels);
}

TEST(RenderWorker, ErrorsComeBackInTheReply) {
  RenderWorker w;
  Session bad = fixture_session(1);
  bad.card_path = test::fixture("no-such-model/card.json");
  w.submit(request_for(bad));
  RenderReply r = wait_reply(w);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("no-such-model"), std::string::npos) << r.error;

  Session wrong = fixture_session(1);
  wrong.edits.push_back(Edit::from_json({{"id", "a"}, {"tap", "main.5"}, {"op", "ablate"}, {"channels", 99}}, "e"));
  w.submit(request_for(wrong));
  r = wait_reply(w);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("99"), std::string::npos) << r.error;

  w.submit(request_for(fixture_session(1)));  // and the worker goes on working
  r = wait_reply(w);
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(RenderWorker, SubmitFromOneThreadTakeFromAnother) {
  RenderWorker w;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> newest_taken{0};
  std::atomic<bool> monotonic{true};
  std::thread reader([&] {
    bool last_partial = false;
    while (!done) {
      if (auto r = w.take()) {
        // A stamp comes back at most twice: its partial reply, then its whole one.
        const bool again_after_partial = r->stamp == newest_taken && last_partial && !r->partial;
        if (r->stamp < newest_taken || (r->stamp == newest_taken && !again_after_partial)) monotonic = false;
        newest_taken = r->stamp;
        last_partial = r->partial;
      }
      std::this_thread::yield();
    }
  });
  std::uint64_t last = 0;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    last = w.submit(request_for(fixture_session(seed % 3)));
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  w.wait_idle(60.0);
  // Let the reader pick up the last reply.
  for (int i = 0; i < 1000 && newest_taken != last; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  done = true;
  reader.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(newest_taken, last);
}


// The editor's `--device cuda`: the worker's replies on the GPU are the CPU's within one 8-bit
// step for images (the GPU computes in float32 with TF32 off; docs/building.md) and three for
// colour-mapped views (a colormap index may move by one at a rounding edge, as in
// ChannelViewDevices.CpuAndCudaAgree). Runs in tools/device/cuda-check.sh; skips here.
TEST(RenderWorkerCuda, RepliesMatchTheCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this LibTorch has no CUDA (or no GPU is present): nothing to compare";
  Session s = fixture_session(11);
  s.edits.push_back(Edit::from_json({{"id", "a"}, {"tap", "main.5"}, {"op", "multiply"}, {"params", {{"factor", -1.5}}}, {"channels", 4}}, "e"));
  RenderReply replies[2];
  const char* devices[2] = {"cpu", "cuda"};
  for (int i = 0; i < 2; ++i) {
    RenderWorker w;
    RenderRequest r = request_for(s);
    r.device = devices[i];
    w.submit(r);
    replies[i] = wait_reply(w);
    ASSERT_TRUE(replies[i].ok()) << devices[i] << ": " << replies[i].error;
  }
  const auto within = [](const Image& a, const Image& b, int most, const char* what) {
    ASSERT_EQ(a.pixels.size(), b.pixels.size()) << what;
    int worst = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
    EXPECT_LE(worst, most) << what;
  };
  within(replies[0].output, replies[1].output, 1, "output");
  within(replies[0].original, replies[1].original, 1, "original");
  ASSERT_EQ(replies[1].views.size(), 1u);
  within(replies[0].views[0].grid.atlas, replies[1].views[0].grid.atlas, 3, "grid");
  within(replies[0].views[0].focus, replies[1].views[0].focus, 3, "focus channel");
  ASSERT_EQ(replies[0].overview.size(), replies[1].overview.size());
  for (std::size_t i = 0; i < replies[0].overview.size(); ++i) within(replies[0].overview[i], replies[1].overview[i], 3, "layer preview");
}

}  // namespace
}  // namespace actmap
