// PyTorch's own weights_only tests, rebuilt as files with torch.load(weights_only=True)'s verdict
// on each (tests/reference/make_weights_only_cases.py wrote tests/fixtures/weights_only/ with
// Debian's PyTorch 1.13), run through actmap's checkpoint reader. Every case where the verdicts
// differ is listed below with its reason (docs/reliability.md has the same table): a difference
// not listed fails, and so does a listed one that no longer differs.
#include <map>

#include <nlohmann/json.hpp>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "test_dirs.h"

namespace actmap {
namespace {

struct Difference {
  std::string kind;  // "stricter": actmap refuses what torch accepts; "looser": the reverse
  std::string reason;
};

const std::map<std::string, Difference>& documented_differences() {
  static const std::map<std::string, Difference> d = {
      {"sparse_coo", {"stricter", "sparse tensors: no generator's weights are sparse"}},
      {"sparse_csr", {"stricter", "sparse tensors: no generator's weights are sparse"}},
      {"complex_conj", {"stricter", "complex dtypes: no generator's weights are complex"}},
      {"complex_neg_view", {"stricter", "complex dtypes: no generator's weights are complex"}},
      {"meta_state_dict", {"stricter", "meta tensors hold no data: weights without values are refused by name"}},
      {"bytes_value_legacy",
       {"looser", "_codecs.encode(str, 'latin1') is how Python 3 writes bytes at protocol 2; actmap decodes the text into "
                  "bytes and calls nothing (torch 1.13 refuses the global; later versions allow it)"}},
      {"float_value",
       {"looser", "BINFLOAT: a float beside the weights (a learning rate, a truncation psi); torch 1.13's unpickler lacks "
                  "the opcode, later versions read it"}},
      {"unknown_opcode_binfloat", {"looser", "BINFLOAT, as float_value"}},
      {"protocol4_stack_global",
       {"looser", "protocol 4 opcodes (SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL): NVIDIA's network pickles use them; the "
                  "global must still be on the allow-list"}},
      {"newobj_ordered_dict",
       {"looser", "NEWOBJ of an allowed container (OrderedDict) builds an empty inert dict; torch 1.13 allows NEWOBJ for "
                  "Parameter only"}},
  };
  return d;
}

TEST(WeightsOnly, AgreesWithTorchLoadOrTheDifferenceIsDocumented) {
  const std::string dir = test::fixture("weights_only");
  const auto doc = nlohmann::json::parse(read_file_text(dir + "/cases.json"));
  int agree = 0, stricter = 0, looser = 0;
  for (const auto& c : doc.at("cases")) {
    const std::string name = c.at("name").get<std::string>(), torch = c.at("torch").get<std::string>();
    SCOPED_TRACE(name + " (" + c.at("source").get<std::string>() + "; torch: " + torch + " " + c.at("torch_error").get<std::string>() + ")");
    std::string ours = "accept", why;
    try {
      read_checkpoint_data(read_file_bytes(dir + "/" + name + ".pt"), name + ".pt");
    } catch (const Error& e) {
      ours = "refuse", why = e.what();
    }
    const auto doc_it = documented_differences().find(name);
    if (ours == torch) {
      ++agree;
      EXPECT_EQ(doc_it, documented_differences().end()) << "documented as " << doc_it->second.kind << " but the verdicts agree now";
      continue;
    }
    const std::string kind = ours == "refuse" ? "stricter" : "looser";
    (kind == "stricter" ? stricter : looser)++;
    ASSERT_NE(doc_it, documented_differences().end()) << "actmap is " << kind << " than torch.load(weights_only=True) here, "
                                                       << "and that is not documented; actmap: " << ours << " " << why;
    EXPECT_EQ(doc_it->second.kind, kind) << why;
  }
  std::cout << "[ weights_only ] " << doc.at("cases").size() << " cases (PyTorch " << doc.at("torch_version").get<std::string>()
            << "): agree " << agree << ", stricter " << stricter << ", looser " << looser << "\n";
  EXPECT_EQ(agree + stricter + looser, static_cast<int>(doc.at("cases").size()));
}

}  // namespace
}  // namespace actmap
