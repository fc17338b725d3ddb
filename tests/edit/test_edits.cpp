#include "actmap/edit/edit.h"
#include "actmap/edit/ops.h"
#include "actmap/render/renderer.h"
#include "edit/python_random.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

std::vector<std::int64_t> sel(const json& j, std::int64_t channels = 8) {
  return ChannelSelector::from_json(j, "channels").resolve(channels, "main.5");
}

TEST(ChannelSelector, Forms) {
  EXPECT_EQ(sel(3), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(sel(json::array({5, 1, 5})), (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(sel(json{{"range", {2, 4}}}), (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(sel("all", 3), (std::vector<std::int64_t>{0, 1, 2}));
  const auto r = sel(json{{"random", 0.5}, {"seed", 9}});
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r, sel(json{{"random", 0.5}, {"seed", 9}}));  // deterministic
  EXPECT_NE(r, sel(json{{"random", 0.5}, {"seed", 10}}));
  const auto c = ChannelSelector::from_json(json{{"cluster", 1}}, "c").resolve(4, "t", {0, 1, 1, 2});
  EXPECT_EQ(c, (std::vector<std::int64_t>{1, 2}));
}

// CPython's random.seed(s); random.sample(range(n), k), from tests/reference/python_random.py.
TEST(ChannelSelector, PythonRandomSampleMatchesCPython) {
  const json cases = json::parse(read_file_text(test::fixture("bending/python_random.json"))).at("cases");
  ASSERT_GE(cases.size(), 10u);
  for (const json& c : cases) {
    EXPECT_EQ(python_random_sample(c.at("seed").get<std::uint64_t>(), c.at("n"), c.at("k")),
              c.at("sample").get<std::vector<std::int64_t>>())
        << c.at("seed") << " " << c.at("n") << " " << c.at("k");
  }
}

TEST(ChannelSelector, PythonRandomStreamMatchesCPython) {
  // random.seed(s), then samples one after another: each is python_random_sample with the earlier
  // ones as draws_before.
  const json streams = json::parse(read_file_text(test::fixture("bending/python_random.json"))).at("streams");
  ASSERT_GE(streams.size(), 2u);
  for (const json& st : streams) {
    std::vector<std::array<std::int64_t, 2>> before;
    for (std::size_t i = 0; i < st.at("draws").size(); ++i) {
      const std::int64_t n = st.at("draws")[i][0], k = st.at("draws")[i][1];
      EXPECT_EQ(python_random_sample(st.at("seed").get<std::uint64_t>(), n, k, before),
                st.at("samples")[i].get<std::vector<std::int64_t>>()) << st.at("seed") << " draw " << i;
      json j = {{"random", static_cast<double>(k) / static_cast<double>(n)}, {"seed", st.at("seed")}, {"rule", "network_bending"}};
      if (!before.empty()) j["draws_before"] = before;
      std::vector<std::int64_t> want = st.at("samples")[i];
      std::sort(want.begin(), want.end());
      EXPECT_EQ(sel(j, n), want);
      EXPECT_EQ(ChannelSelector::from_json(j, "c").to_json(), j);
      before.push_back({n, k});
    }
  }
  test::expect_error([] { sel(json{{"random", 0.5}, {"draws_before", {{8, 4}}}}); }, {"draws_before", "network_bending"});
  test::expect_error([] { sel(json{{"random", 0.5}, {"rule", "network_bending"}, {"draws_before", {{4, 8}}}}); },
                     {"draws_before/0", "count <= channels"});
}

TEST(ChannelSelector, NetworkBendingRandomRule) {
  // int(C * fraction) channels, Python's draw with the seed, sorted.
  const json cases = json::parse(read_file_text(test::fixture("bending/python_random.json"))).at("cases");
  for (const json& c : cases) {
    const std::int64_t n = c.at("n"), k = c.at("k");
    if (n > 4096 || k == 0) continue;
    std::vector<std::int64_t> want = c.at("sample");
    std::sort(want.begin(), want.end());
    // A fraction whose int(n * f) is k.
    const double f = (static_cast<double>(k) + 0.5) / static_cast<double>(n);
    const json j = {{"random", std::min(1.0, f)}, {"seed", c.at("seed")}, {"rule", "network_bending"}};
    if (static_cast<std::int64_t>(static_cast<double>(n) * std::min(1.0, f)) != k) continue;
    EXPECT_EQ(sel(j, n), want) << j.dump();
  }
  // Truncation, not rounding: int(8 * 0.99) = 7; 0 takes none; 0.1 of 8 takes none too.
  EXPECT_EQ(sel(json{{"random", 0.99}, {"seed", 0}, {"rule", "network_bending"}}).size(), 7u);
  EXPECT_TRUE(sel(json{{"random", 0}, {"seed", 0}, {"rule", "network_bending"}}).empty());
  EXPECT_TRUE(sel(json{{"random", 0.1}, {"seed", 3}, {"rule", "network_bending"}}).empty());
  // actmap's rule stays: round(0.1 * 8) = 1, at least one; its fraction must be above 0.
  EXPECT_EQ(sel(json{{"random", 0.1}, {"seed", 3}}).size(), 1u);
  test::expect_error([] { sel(json{{"random", 0}, {"seed", 0}}); }, {"channels/random", "(0, 1]"});
  test::expect_error([] { sel(json{{"random", 0.5}, {"rule", "python"}}); }, {"channels/rule", "network_bending"});
  test::expect_error([] { sel(json{{"random", 0.5}, {"sead", 1}}); }, {"channels/sead", "unknown key"});
  // JSON: the rule is written only when it is not actmap's, so old selectors read and write as before.
  const json nb = {{"random", 0.25}, {"seed", 4}, {"rule", "network_bending"}};
  EXPECT_EQ(ChannelSelector::from_json(nb, "c").to_json(), nb);
  EXPECT_EQ(ChannelSelector::from_json(json{{"random", 0.25}, {"seed", 4}}, "c").to_json(), (json{{"random", 0.25}, {"seed", 4}}));
}

TEST(ChannelSelector, MissingClusterSelectsNothing) {
  // As in Network Bending: a cluster no channel is in bends nothing; -1 is in no cluster.
  const auto c = ChannelSelector::from_json(json{{"cluster", 3}}, "c");
  EXPECT_TRUE(c.resolve(4, "t", {0, 1, -1, 2}).empty());
  EXPECT_EQ(ChannelSelector::from_json(json{{"cluster", 1}}, "c").resolve(4, "t", {1, -1, -1, 1}), (std::vector<std::int64_t>{0, 3}));
  test::expect_error([&] { c.resolve(4, "t", {}); }, {"'t' has no clusters"});
  // An edit that selects nothing leaves the activation as it was.
  Edit e = Edit::from_json(json{{"id", "e"}, {"tap", "t"}, {"channels", {{"cluster", 3}}}, {"op", "fill"}, {"params", {{"value", 9}}}}, "/e");
  const at::Tensor x = at::randn({1, 4, 3, 3});
  EXPECT_TRUE(at::equal(apply_edits(x, {&e}, TapInfo{"t", 4, 3, 3, 0}, {0, 1, -1, 2}), x));
}

TEST(ChannelSelector, RoundTripsJson) {
  for (const json& j : {json(3), json::array({1, 2}), json{{"range", {0, 7}}}, json("all"), json{{"cluster", 2}}}) {
    EXPECT_EQ(ChannelSelector::from_json(j, "c").to_json(), j);
  }
}

TEST(ChannelSelector, TextFormsAsTyped) {
  EXPECT_EQ(ChannelSelector::from_text("5").to_json(), json(5));
  EXPECT_EQ(ChannelSelector::from_text(" 1, 4,9 ").to_json(), json::array({1, 4, 9}));
  EXPECT_EQ(ChannelSelector::from_text("2-7").to_json(), (json{{"range", {2, 7}}}));
  EXPECT_EQ(ChannelSelector::from_text("ALL").to_json(), json("all"));
  EXPECT_EQ(ChannelSelector::from_text("cluster 2").to_json(), (json{{"cluster", 2}}));
  EXPECT_EQ(ChannelSelector::from_text("2-7").resolve(10, "t"), (std::vector<std::int64_t>{2, 3, 4, 5, 6, 7}));
  for (const char* text : {"5", "1, 4, 9", "2-7", "all", "cluster 2"}) {
    EXPECT_EQ(ChannelSelector::from_text(text).to_text(), text);
  }
  for (const char* bad : {"", "x", "1,,2", "3-", "cluster", "cluster x", "1.5", "99999999999999999999"}) {
    test::expect_error([&] { ChannelSelector::from_text(bad); }, {"channels '", "expected a channel (5)"});
  }
  test::expect_error([] { ChannelSelector::from_text("-3"); }, {"channels '-3'"});  // the JSON form's own check
}

TEST(ChannelSelector, OutOfRangeNamesTapAndCount) {
  test::expect_error([] { sel(8); }, {"channel 8", "'main.5'", "8 channels"});
  test::expect_error([] { sel(json{{"range", {2, 9}}}); }, {"channel 9", "'main.5'"});
  test::expect_error([] { ChannelSelector::from_json("some", "/edits/0/channels"); }, {"/edits/0/channels: ", "\"all\""});
  test::expect_error([] { ChannelSelector::from_json(json{{"cluster", 0}}, "c").resolve(4, "main.2"); }, {"'main.2'", "no clusters"});
}

TEST(EditList, ParsesValidatesAndFillsIds) {
  const auto edits = edits_from_json(json::parse(R"({"edits":[
      {"tap":"main.2","op":"multiply","params":{"factor":2},"channels":[0,1]},
      {"id":"e1","tap":"main.5","op":"ablate","enabled":false}]})"));
  ASSERT_EQ(edits.size(), 2u);
  EXPECT_EQ(edits[0].id, "e2");  // "e1" is taken
  EXPECT_EQ(edits[1].id, "e1");
  EXPECT_FALSE(edits[1].enabled);
  EXPECT_EQ(edits[1].channels.kind, ChannelSelector::Kind::All);
  const auto again = edits_from_json(edits_to_json(edits), "x");
  EXPECT_EQ(edits_to_json(again), edits_to_json(edits));
}

TEST(EditList, ErrorsNameTheEditAndKey) {
  test::expect_error([] { edits_from_json(json::parse(R"([{"tap":"a","op":"blurr"}])")); },
                     {"/0/op: ", "unknown op \"blurr\"", "multiply"});
  test::expect_error([] { edits_from_json(json::parse(R"([{"tap":"a","op":"multiply","params":{"factr":2}}])")); },
                     {"/0/params/factr: ", "factor"});
  test::expect_error([] { edits_from_json(json::parse(R"({"edits":[{"tap":"a","op":"fill","params":{"value":"x"}}]})")); },
                     {"/edits/0/params/value: expected a number, got \"x\""});
  test::expect_error([] { edits_from_json(json::parse(R"([{"tap":"a","op":"fill","params":{"value":1e9}}])")); },
                     {"/0/params/value: ", "outside"});
  test::expect_error([] { edits_from_json(json::parse(R"([{"op":"fill"}])")); }, {"/0/tap: ", "missing"});
  test::expect_error([] { edits_from_json(json::parse(R"([{"id":"a","tap":"t","op":"ablate"},{"id":"a","tap":"t","op":"ablate"}])")); },
                     {"/1/id: ", "\"a\"", "twice"});
}

TEST(OpRegistry, ListsParametersWithDefaults) {
  const OpSpec* m = find_op("multiply");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[1].name, "renormalize");
  EXPECT_EQ(m->params[0].name, "factor");
  EXPECT_EQ(m->params[0].default_value, 1.0);
  EXPECT_EQ(validate_op_params("add", json::object(), "e")["value"], 0.0);
  for (const char* name : {"fill", "multiply", "add", "ablate"}) EXPECT_NE(find_op(name), nullptr) << name;
}

// Hand-computed: x[n, c, h, w] = c + 1 on a 1x3x2x2 tap.
TEST(ApplyEdits, HandComputedValues) {
  const at::Tensor x = (at::arange(3, at::kFloat) + 1).view({1, 3, 1, 1}).expand({1, 3, 2, 2}).contiguous();
  const TapInfo tap{"t", 3, 2, 2, 0};
  auto edit = [](const char* text) { return Edit::from_json(json::parse(text), "e"); };
  const Edit add = edit(R"({"id":"a","tap":"t","op":"add","params":{"value":10},"channels":[0,2]})");
  const Edit mul = edit(R"({"id":"m","tap":"t","op":"multiply","params":{"factor":-2},"channels":{"range":[1,2]}})");
  const Edit fill = edit(R"({"id":"f","tap":"t","op":"fill","params":{"value":0.5},"channels":1})");
  const Edit ablate = edit(R"({"id":"z","tap":"t","op":"ablate","channels":"all"})");

  // add then multiply: channel 0: 1+10 = 11; channel 1: 2*-2 = -4; channel 2: (3+10)*-2 = -26.
  at::Tensor y = apply_edits(x, {&add, &mul}, tap);
  EXPECT_TRUE(at::equal(y.amax({2, 3}), at::tensor({11.f, -4.f, -26.f}).view({1, 3})));
  EXPECT_TRUE(at::equal(y.amin({2, 3}), y.amax({2, 3})));
  // multiply then add: channel 2: 3*-2+10 = 4.
  y = apply_edits(x, {&mul, &add}, tap);
  EXPECT_TRUE(at::equal(y.amax({2, 3}), at::tensor({11.f, -4.f, 4.f}).view({1, 3})));
  y = apply_edits(x, {&fill}, tap);
  EXPECT_TRUE(at::equal(y.amax({2, 3}), at::tensor({1.f, 0.5f, 3.f}).view({1, 3})));
  y = apply_edits(x, {&ablate}, tap);
  EXPECT_EQ(y.abs().sum().item<float>(), 0.f);
  // The input is never changed in place.
  EXPECT_TRUE(at::equal(x.amax({2, 3}), at::tensor({1.f, 2.f, 3.f}).view({1, 3})));
  const Edit bad = edit(R"({"id":"b","tap":"t","op":"ablate","channels":[3]})");
  test::expect_error([&] { apply_edits(x, {&bad}, tap); }, {"edit 'b'", "channel 3", "'t'", "3 channels"});
}

}  // namespace
}  // namespace actmap
