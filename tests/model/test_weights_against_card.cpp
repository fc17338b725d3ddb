// A card's layers against its weights file: missing, unexpected and mis-shaped keys, a hash that
// does not match (load_generator; the safetensors reader itself is in tests/io/test_safetensors.cpp).
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"
#include "test_util.h"

namespace actmap {
namespace {

// Faults found when a card's layers meet the file: missing, unexpected and mis-shaped keys.
class WeightsAgainstCard : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("weights");
    card_ = R"({"family":"sequential","latent":{"size":4},"weights":"w.safetensors","layers":[
      {"type":"linear","in":4,"out":12,"weights":"fc"},{"type":"reshape","shape":[3,2,2]},{"type":"tanh"}]})";
    write_file_atomic(dir_ + "/card.json", card_);
  }
  void write(const std::map<std::string, FloatTensor>& t) {
    write_file_atomic(dir_ + "/w.safetensors", encode_safetensors(t));
  }
  void load() { load_generator(load_model_card(dir_ + "/card.json")); }
  std::string dir_, card_;
};

TEST_F(WeightsAgainstCard, LoadsWhenEverythingMatches) {
  write({{"fc.weight", {{12, 4}, std::vector<float>(48, 0.1f)}}, {"fc.bias", {{12}, std::vector<float>(12, 0.f)}}});
  EXPECT_NO_THROW(load());
}

TEST_F(WeightsAgainstCard, MissingKey) {
  write({{"fc.weight", {{12, 4}, std::vector<float>(48, 0.1f)}}});
  test::expect_error([&] { load(); }, {"w.safetensors", "missing key 'fc.bias'", "[12]"});
}

TEST_F(WeightsAgainstCard, UnexpectedKey) {
  write({{"fc.weight", {{12, 4}, std::vector<float>(48, 0.1f)}}, {"fc.bias", {{12}, std::vector<float>(12, 0.f)}},
         {"extra.weight", {{1}, {0.f}}}});
  test::expect_error([&] { load(); }, {"w.safetensors", "unexpected key", "'extra.weight'"});
}

TEST_F(WeightsAgainstCard, WrongShape) {
  write({{"fc.weight", {{4, 12}, std::vector<float>(48, 0.1f)}}, {"fc.bias", {{12}, std::vector<float>(12, 0.f)}}});
  test::expect_error([&] { load(); }, {"w.safetensors", "'fc.weight'", "expected shape [12, 4]", "got [4, 12]"});
}

TEST_F(WeightsAgainstCard, HashMismatchWarns) {
  write({{"fc.weight", {{12, 4}, std::vector<float>(48, 0.1f)}}, {"fc.bias", {{12}, std::vector<float>(12, 0.f)}}});
  std::string card = card_;
  card.replace(card.find("\"w.safetensors\""), 15, R"({"path":"w.safetensors","sha256":"00ff"})");
  write_file_atomic(dir_ + "/card.json", card);
  std::vector<std::string> warnings;
  set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  load();
  set_warning_sink(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("sha256"), std::string::npos);
  EXPECT_NE(warnings[0].find("00ff"), std::string::npos);
}

}  // namespace
}  // namespace actmap
