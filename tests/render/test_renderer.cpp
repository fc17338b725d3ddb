#include "actmap/render/renderer.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

class RendererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gen_ = load_generator(load_model_card(test::fixture("dcgan64/card.json")));
    z_ = latents_from_seeds(gen_->card().latent, 11, 2);
  }
  Edit edit(const std::string& tap, const std::string& op, json params, json channels = "all") {
    return Edit::from_json({{"id", tap + op}, {"tap", tap}, {"op", op}, {"params", params}, {"channels", channels}}, "e");
  }
  std::shared_ptr<const Generator> gen_;
  at::Tensor z_;
};

TEST_F(RendererTest, RerunFromEditedTapEqualsFullRun) {
  Renderer cached(gen_);
  cached.render(z_, {});
  const auto& taps = gen_->taps();
  for (std::size_t k = 0; k < taps.size(); ++k) {
    const std::vector<Edit> edits = {edit(taps[k].name, "multiply", {{"factor", -1.5}}, json::array({0, 2})),
                                     edit(taps[k].name, "add", {{"value", 0.25}}, json{{"range", {1, 2}}})};
    const RenderResult partial = cached.render(z_, edits);
    EXPECT_EQ(partial.timings.first_stage, k);
    // Stages before k come from the cache, and so does k's own output: only its edits are new.
    for (std::size_t i = 0; i <= k; ++i) EXPECT_EQ(partial.timings.stage_ms[i], 0.0);
    for (std::size_t i = k + 1; i < taps.size(); ++i) EXPECT_GT(partial.timings.stage_ms[i], 0.0);

    Renderer fresh(gen_);
    const RenderResult full = fresh.render(z_, edits);
    EXPECT_EQ(full.timings.first_stage, 0u);
    EXPECT_LE(test::closeness(partial.output, full.output, 1e-6, 0.0), 1.0) << "edit at " << taps[k].name;
    for (std::size_t i = 0; i < taps.size(); ++i) {
      EXPECT_LE(test::closeness(cached.activation(i), fresh.activation(i), 1e-6, 0.0), 1.0) << taps[i].name;
    }
    // The edit really changed the output (otherwise the comparison proves nothing).
    EXPECT_GT((full.output - gen_->forward(z_)).abs().max().item<float>(), 1e-3) << taps[k].name;
    cached.render(z_, {});  // back to no edits: re-runs from tap k again
  }
}

// The original (no edits) resumed from the edited pass's cache equals a fresh render without
// edits, wherever the first edit is, and is the edited output itself when nothing is enabled.
TEST_F(RendererTest, UneditedOutputResumedFromTheCacheEqualsAPlainRender) {
  Renderer plain(gen_);
  const at::Tensor expected = plain.render(z_, {}).output;
  Renderer r(gen_);
  test::expect_error([&] { r.unedited_output(); }, {"nothing rendered"});
  const auto& taps = gen_->taps();
  for (std::size_t k = 0; k < taps.size(); ++k) {
    const std::vector<Edit> edits = {edit(taps[k].name, "multiply", {{"factor", -2.0}}, json::array({0, 1})),
                                     edit(taps.back().name, "add", {{"value", 0.5}})};
    const RenderResult edited = r.render(z_, edits);
    ASSERT_GT((edited.output - expected).abs().max().item<float>(), 1e-3) << taps[k].name;
    EXPECT_TRUE(at::equal(r.unedited_output(), expected)) << "first edit at " << taps[k].name;
  }
  std::vector<Edit> disabled = {edit(taps[1].name, "ablate", json::object())};
  disabled[0].enabled = false;
  const RenderResult same = r.render(z_, disabled);
  EXPECT_TRUE(at::equal(r.unedited_output(), same.output));
  EXPECT_TRUE(at::equal(same.output, expected));
}

TEST(RendererStyleGan2, UneditedOutputAfterWeightAndWPlusEditsEqualsAPlainRender) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  const at::Tensor z = latents_from_seeds(gen->card().latent, 3, 1);
  Renderer plain(gen);
  const at::Tensor expected = plain.render(z, {}).output;
  auto make = [](const std::string& tap, const std::string& op, json params, json channels) {
    return Edit::from_json({{"id", tap + op}, {"tap", tap}, {"op", op}, {"params", params}, {"channels", channels}}, "e");
  };
  const std::vector<std::vector<Edit>> cases = {
      {make("b8.conv1", "weight_zero", json::object(), json::array({0}))},
      {make("mapping", "w_noise", {{"strength", 1.0}, {"seed", 5}}, json::array({0, 1}))},
      {make("b16.conv0", "multiply", {{"factor", 3.0}}, "all"), make("b8.conv1", "weight_negate", json::object(), "all")},
  };
  Renderer r(gen);
  for (const auto& edits : cases) {
    const RenderResult edited = r.render(z, edits);
    ASSERT_GT((edited.output - expected).abs().max().item<float>(), 1e-4) << edits[0].op;
    EXPECT_TRUE(at::equal(r.unedited_output(), expected)) << edits[0].op;
  }
}

// render_from: a tap's state replaced by hand runs on through the later stages and their edits,
// carrying StyleGAN2's W+ and running image along; the next render forgets it.
TEST(RendererStyleGan2, RenderFromAReplacedActivationEqualsTheEditThatMakesIt) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  const at::Tensor z = latents_from_seeds(gen->card().latent, 5, 2);
  auto make = [](const std::string& tap, const std::string& op, json params) {
    return Edit::from_json({{"id", tap + op}, {"tap", tap}, {"op", op}, {"params", params}, {"channels", "all"}}, "e");
  };
  const std::vector<Edit> later = {make("b16.conv0", "add", {{"value", 0.5}})};
  std::vector<Edit> tripled = later;
  tripled.insert(tripled.begin(), make("b8.conv1", "multiply", {{"factor", 3.0}}));
  Renderer reference(gen);
  const at::Tensor expected = reference.render(z, tripled).output;

  Renderer r(gen);
  test::expect_error([&] { r.render_from(1, at::zeros({1}), later); }, {"render first"});
  const at::Tensor plain = r.render(z, later).output;
  const std::size_t k = gen->tap_index("b8.conv1");
  const RenderResult same = r.render_from(k, r.activation(k).clone(), later);
  EXPECT_EQ(same.timings.first_stage, k + 1);
  EXPECT_TRUE(at::equal(same.output, plain));
  const RenderResult replaced = r.render_from(k, r.activation(k) * 3.0, later);
  EXPECT_TRUE(at::equal(replaced.output, expected));
  ASSERT_GT((replaced.output - plain).abs().max().item<float>(), 1e-3);
  test::expect_error([&] { r.render_from(k, at::zeros({2, 3}), later); }, {"b8.conv1", "must have shape"});
  // The next render starts from that tap's own activation again.
  const RenderResult again = r.render(z, later);
  EXPECT_EQ(again.timings.first_stage, k);
  EXPECT_TRUE(at::equal(again.output, plain));
}

TEST_F(RendererTest, ReusesCacheAndInvalidatesOnNewLatent) {
  Renderer r(gen_);
  const std::vector<Edit> edits = {edit("main.8", "ablate", json::object(), 3)};
  EXPECT_EQ(r.render(z_, edits).timings.first_stage, 0u);
  EXPECT_EQ(r.render(z_, edits).timings.first_stage, gen_->taps().size());  // all from cache
  std::vector<Edit> renamed = edits;
  renamed[0].id = "other";
  EXPECT_EQ(r.render(z_, renamed).timings.first_stage, gen_->taps().size());  // ids do not change pixels
  renamed[0].enabled = false;
  EXPECT_EQ(r.render(z_, renamed).timings.first_stage, 2u);
  const at::Tensor z2 = latents_from_seeds(gen_->card().latent, 12, 2);
  EXPECT_EQ(r.render(z2, renamed).timings.first_stage, 0u);
}

TEST_F(RendererTest, EditsAtTapChangeThatTapOnly) {
  Renderer r(gen_);
  r.render(z_, {edit("main.5", "ablate", json::object(), json::array({1, 4}))});
  const at::Tensor edited = r.activation(1), raw = r.unedited_activation(1);
  EXPECT_EQ(edited.select(1, 1).abs().max().item<float>(), 0.f);
  EXPECT_EQ(edited.select(1, 4).abs().max().item<float>(), 0.f);
  EXPECT_TRUE(at::equal(edited.select(1, 0), raw.select(1, 0)));
  EXPECT_GT(raw.select(1, 1).abs().max().item<float>(), 0.f);
}

TEST_F(RendererTest, BadEditIsAnErrorAndTheCacheStaysUsable) {
  Renderer r(gen_);
  const RenderResult good = r.render(z_, {});
  test::expect_error([&] { r.render(z_, {edit("main.99", "ablate", json::object())}); }, {"main.99", "main.2"});
  test::expect_error([&] { r.render(z_, {edit("main.8", "ablate", json::object(), 500)}); }, {"channel 500", "'main.8'", "16 channels"});
  const RenderResult again = r.render(z_, {});
  EXPECT_TRUE(at::equal(good.output, again.output));
}

}  // namespace
}  // namespace actmap
