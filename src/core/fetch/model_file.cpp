// open_model_file and convert_checkpoint: a checkpoint file -> safetensors weights and a StyleGAN2
// card, with the average W estimated where the file has none, into the cache under the file's
// sha256 (docs/import.md, "Opening checkpoint files").
#include "actmap/fetch/model_file.h"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/npy.h"
#include "actmap/io/progress.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"
#include "actmap/model/stylegan3_config.h"
#include "actmap/model/w_average.h"
#include "fetch/file_lock.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

using FileStage = ModelFileProgress::Stage;

class Reporter {
 public:
  explicit Reporter(const ModelFileOptions& o) : o_(o) {}
  bool cancelled() const { return o_.cancel && o_.cancel->load() != 0; }
  void check() const {
    if (cancelled()) throw Cancelled();
  }
  void say(FileStage stage, double fraction, const std::string& text) const {
    check();
    if (!o_.progress) return;
    ModelFileProgress p;
    p.stage = stage;
    p.fraction = fraction;
    p.text = text;
    o_.progress(p);
  }
  // A ProgressFn for counted work of one stage (false stops it: Cancelled).
  ProgressFn counted(FileStage stage, const std::string& text) const {
    return [this, stage, text](std::int64_t done, std::int64_t total) {
      if (cancelled()) return false;
      if (o_.progress) say(stage, total > 0 ? static_cast<double>(done) / static_cast<double>(total) : -1.0, text);
      return true;
    };
  }

 private:
  const ModelFileOptions& o_;
};

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// A checkpoint read into official StyleGAN2 names, with its config and what was found.
struct Converted {
  ImportResult r;
  json config;
  bool stylegan2 = false;
  bool stylegan3 = false;
  bool generator() const { return stylegan2 || stylegan3; }
  const char* family() const { return stylegan3 ? "stylegan3" : "stylegan2"; }
  std::string w_avg_origin;  // how the average W came about, in words
  std::vector<std::string> report;
};

// Which of the file's networks was taken, in words.
std::string network_words(const ImportResult& r) {
  if (r.format == "nvidia-pkl" && r.prefix == "G_ema") {
    return "G_ema, the moving average of the generator that NVIDIA's own scripts render (not G)";
  }
  if (r.format == "tf-pkl" && r.prefix == "Gs") return "Gs, the moving average of the generator that NVIDIA's own scripts render (not G)";
  if (r.key_map == "rosinality" && r.prefix == "g_ema") return "g_ema, the moving average that rosinality's generate.py renders (not g)";
  return r.prefix.empty() ? "the file's state dict" : "'" + r.prefix + "'";
}

std::string origin_words(const std::string& file, const ImportResult& r) {
  const std::string held = r.networks.empty() ? "" : " holding " + join(r.networks);
  if (r.format == "tf-pkl") return file + ": an NVIDIA TensorFlow StyleGAN2 pickle (dnnlib.tflib)" + held;
  if (r.format == "nvidia-pkl") return file + ": a " + r.source_repository + " network pickle" + held;
  if (r.key_map == "rosinality") {
    return file + ": a rosinality stylegan2-pytorch checkpoint" +
           (r.has_latent_avg ? std::string(" (with latent_avg, as its convert_weight.py writes)")
                             : std::string(" as its train.py writes them (no average W)")) + held;
  }
  if (r.format == "safetensors") return file + ": a safetensors state dict";
  return file + ": a PyTorch checkpoint (" + r.format + ")" + held;
}

Converted read_checkpoint(const std::string& path, const ImportOptions& io, const Reporter& rep) {
  const std::string file = fs::path(path).filename().string();
  rep.say(FileStage::Read, -1, "reading " + file);
  Converted c;
  if (lower_extension(path) == ".safetensors") {
    c.r.format = "safetensors";
    c.r.key_map = "none";
    c.r.tensors = read_safetensors(path);
    const bool rosinality = c.r.tensors.count("input.input") && c.r.tensors.count("style.1.weight");
    if (io.key_map == "rosinality" || (rosinality && io.key_map == "auto")) {
      c.r.tensors = map_rosinality_keys(c.r.tensors, nullptr, &c.r.notes);
      c.r.key_map = "rosinality";
    }
  } else {
    c.r = import_checkpoint(path, io);
  }
  c.stylegan2 = is_stylegan2_state_dict(c.r.tensors);
  c.stylegan3 = !c.stylegan2 && is_stylegan3_state_dict(c.r.tensors);
  c.report.push_back(origin_words(file, c.r));
  if (!c.generator()) return c;
  c.report.push_back("using " + network_words(c.r));
  c.config = c.r.config;
  if (c.config.is_null()) {
    std::vector<std::string> notes;
    c.config = c.stylegan3 ? infer_stylegan3_config(c.r.tensors, &notes) : infer_stylegan2_config(c.r.tensors, &notes);
    for (auto& n : notes) c.r.notes.push_back(std::move(n));
  }
  if (c.stylegan3) {
    const StyleGAN3Config g = parse_stylegan3_config(c.config, file + ": config");
    const std::string kind = g.use_radial_filters || g.conv_kernel == 1 ? "StyleGAN3-R" : "StyleGAN3-T";
    c.report.push_back(kind + " generator, " + std::to_string(g.img_resolution) + "x" + std::to_string(g.img_resolution) +
                       ", " + std::to_string(g.img_channels) + " channels, z " + std::to_string(g.z_dim) + ", w " +
                       std::to_string(g.w_dim) + ", " + std::to_string(g.num_layers) + " synthesis layers, kernel " +
                       std::to_string(g.conv_kernel));
    if (g.num_fp16_res > 0) {
      c.report.push_back("fp16: the original runs its " + std::to_string(g.num_fp16_res) + " highest-resolution layers in "
                         "float16 on NVIDIA GPUs; actmap runs every layer in float32, as the original does on the CPU");
    }
    return c;
  }
  const std::int64_t res = c.config.value("img_resolution", 0LL), c_dim = c.config.value("c_dim", 0LL);
  const json& syn = c.config["synthesis_kwargs"];
  c.report.push_back("StyleGAN2 generator, " + std::to_string(res) + "x" + std::to_string(res) + ", " +
                     std::to_string(c.config.value("img_channels", 3LL)) + " channels, z " +
                     std::to_string(c.config.value("z_dim", 0LL)) + ", w " + std::to_string(c.config.value("w_dim", 0LL)) +
                     ", " + std::to_string(c.config["mapping_kwargs"].value("num_layers", 8LL)) + " mapping layers, " +
                     syn.value("architecture", std::string("skip")) + " architecture");
  c.report.push_back(c_dim > 0 ? "conditional: " + std::to_string(c_dim) + " classes (c_dim " + std::to_string(c_dim) +
                                     "); pick one with --class K or a label vector with --c FILE.npy (class 0 when none is given)"
                               : "unconditional (c_dim 0)");
  const std::int64_t fp16 = syn.value("num_fp16_res", 0LL);
  if (fp16 > 0) {
    c.report.push_back("fp16: the original runs its " + std::to_string(fp16) + " highest-resolution blocks in float16 on "
                       "NVIDIA GPUs (num_fp16_res " + std::to_string(fp16) + "); actmap runs every block in float32, as the "
                       "original does on the CPU, unless asked: --fp16 (or \"cuda_fp16\": true in the card) runs them in "
                       "float16 on CUDA as the original does");
  }
  return c;
}

// Refuses what is not a StyleGAN2 or StyleGAN3 generator, in one line that says what it is and
// what to do.
void require_generator(const std::string& path, const Converted& c) {
  if (c.generator()) return;
  const std::string what = recognise_non_generator(c.r.tensors);
  if (!what.empty()) {
    throw Error(path + ": this is " + what + ", not a generator; open the checkpoint that holds the generator "
                "(G_ema in NVIDIA's network-snapshot-*.pkl, g_ema in rosinality's checkpoints)");
  }
  throw Error(path + ": not a StyleGAN2 or StyleGAN3 generator (after the key map there is no mapping.fc0.weight with "
              "synthesis.b4.const or synthesis.input.freqs; its " + std::to_string(c.r.tensors.size()) + " tensors " +
              (c.r.prefix.empty() ? std::string("are at the root") : "are under '" + c.r.prefix + "'") +
              "); for a DCGAN or another network run actmap-cli import and write its card's layer list (docs/import.md)");
}

json make_card(const std::string& family, const std::string& name, const std::string& description, const std::string& license,
               const json& config, const std::string& weights_rel, const std::string& weights_sha) {
  return {{"actmap_model_card", 1},
          {"name", name},
          {"family", family},
          {"description", description},
          {"license", license},
          {"config", config},
          {"weights", weights_sha.empty() ? json{{"path", weights_rel}} : json{{"path", weights_rel}, {"sha256", weights_sha}}}};
}

std::string encoded(const Converted& c, const std::map<std::string, std::string>& metadata, std::string* sha) {
  std::string bytes = encode_safetensors(c.r.tensors, metadata);
  if (sha) *sha = sha256_hex(bytes.data(), bytes.size());
  return bytes;
}

// Fills in mapping.w_avg when the checkpoint has none: from `w_avg_file`, else estimated as
// rosinality's generate.py does (mean_latent(4096)) on seeded latents, through a generator loaded
// from a scratch copy in `scratch_dir`. Returns true when it loaded that generator (which checked
// every other key and shape).
bool complete_w_avg(Converted& c, const std::string& w_avg_file, const std::string& scratch_dir, const Reporter& rep) {
  const std::int64_t w_dim = c.config.value("w_dim", 0LL);
  if (!w_avg_file.empty()) {
    const FloatArray a = read_npy(w_avg_file);
    if (!(a.shape == std::vector<std::int64_t>{w_dim} || a.shape == std::vector<std::int64_t>{1, w_dim})) {
      throw Error(w_avg_file + ": an average W must have shape [" + std::to_string(w_dim) + "] or [1, " +
                  std::to_string(w_dim) + "] (the generator's w_dim)");
    }
    c.w_avg_origin = "supplied from " + fs::path(w_avg_file).filename().string() +
                     (c.r.tensors.count("mapping.w_avg") ? " (in place of the file's own)" : "");
    FloatTensor t;
    t.shape = {w_dim};
    t.data = a.data;
    c.r.tensors["mapping.w_avg"] = std::move(t);
    return false;
  }
  if (c.r.tensors.count("mapping.w_avg")) {
    c.w_avg_origin = c.r.key_map == "rosinality" ? "the checkpoint's latent_avg" : "stored in the checkpoint (mapping.w_avg)";
    return false;
  }
  rep.say(FileStage::Estimate, 0, "estimating the average W");
  const fs::path weights = fs::path(scratch_dir) / "estimate.safetensors";
  const fs::path card = fs::path(scratch_dir) / "estimate.json";
  const std::string bytes = encoded(c, {}, nullptr);
  write_file_atomic(weights.string(), bytes);
  write_file_atomic(card.string(), make_card("stylegan2", "estimate", "", "", c.config, "estimate.safetensors", "").dump());
  std::vector<float> mean;
  {
    const auto gen = load_generator(load_model_card(card.string()), "cpu");
    mean = estimate_w_average(*gen, kWAverageSamples, 0, rep.counted(FileStage::Estimate, "estimating the average W"));
  }
  std::error_code ec;
  fs::remove(weights, ec);
  fs::remove(card, ec);
  FloatTensor t;
  t.shape = {w_dim};
  t.data = std::move(mean);
  c.r.tensors["mapping.w_avg"] = std::move(t);
  c.w_avg_origin = "estimated: the mean of the mapping network over the " + std::to_string(kWAverageSamples) +
                   " seeded latents of seeds 0 to " + std::to_string(kWAverageSamples - 1) +
                   ", as rosinality's generate.py does with mean_latent(4096); the file stores none";
  return true;
}

// Writes weights and card (paths given); checks that the written model loads.
std::vector<std::string> write_model(Converted& c, const std::string& source_path, const std::string& source_sha,
                                     const std::string& weights_path, const std::string& card_path, const std::string& name,
                                     const std::string& license, const std::string& scratch_dir,
                                     const std::string& w_avg_file, const Reporter& rep) {
  const std::string file = fs::path(source_path).filename().string();
  std::vector<std::string> report = c.report;
  bool checked = false;  // the model was loaded once already (to estimate the average W)
  if (c.stylegan2) {
    checked = complete_w_avg(c, w_avg_file, scratch_dir, rep);
    report.push_back("average W (for truncation): " + c.w_avg_origin);
  }
  for (const auto& n : c.r.notes) report.push_back("note: " + n);
  std::map<std::string, std::string> metadata = {{"source", file},
                                                 {"source_format", c.r.format},
                                                 {"prefix", c.r.prefix},
                                                 {"key_map", c.r.key_map}};
  if (!source_sha.empty()) metadata["source_sha256"] = source_sha;
  if (!c.w_avg_origin.empty()) metadata["w_avg"] = c.w_avg_origin;
  rep.say(FileStage::Write, -1, "writing the converted weights");
  std::string sha;
  const std::string bytes = encoded(c, metadata, &sha);
  write_file_atomic(weights_path, bytes);
  if (in_model_cache(weights_path)) remember_sha256(weights_path, sha);  // loading it will not hash it again
  if (card_path.empty()) return report;

  const fs::path card_dir = fs::absolute(card_path).parent_path();
  std::string description = "Converted by actmap from " + file + " (" + c.r.format +
                            (c.r.prefix.empty() ? "" : ", network '" + c.r.prefix + "'") +
                            (c.r.key_map == "none" ? "" : ", " + c.r.key_map + " names mapped to the official ones") + ").";
  json card = make_card(c.family(), name, description, license, c.config,
                        fs::absolute(weights_path).lexically_relative(card_dir).string(), sha);
  card["source"] = {{"file", file}, {"format", c.r.format}, {"network", c.r.prefix}, {"key_map", c.r.key_map},
                    {"w_avg", c.w_avg_origin}, {"report", report}};
  if (!source_sha.empty()) card["source"]["sha256"] = source_sha;
  // The switch for the original's float16 blocks, written out so the card says which runs (false:
  // float32 everywhere; true: those blocks in float16 on CUDA, as --fp16).
  if (c.stylegan2 && c.config.contains("synthesis_kwargs") && c.config["synthesis_kwargs"].value("num_fp16_res", 0LL) > 0) {
    card["cuda_fp16"] = false;
  }
  write_file_atomic(card_path, card.dump(2) + "\n");
  if (checked) return report;
  rep.say(FileStage::Check, -1, "loading the converted model");
  try {
    load_generator(load_model_card(card_path), "cpu");
  } catch (const Error& e) {
    throw Error(source_path + ": the converted model does not load: " + e.what());
  }
  return report;
}

std::vector<std::string> cached_report(const std::string& card) {
  std::vector<std::string> out;
  try {
    const json doc = json::parse(read_file_text(card));
    for (const auto& line : doc.at("source").at("report")) out.push_back(line.get<std::string>());
  } catch (const std::exception&) {
    // An entry without a report still opens.
  }
  return out;
}

}  // namespace

OpenedModelFile open_model_file(const std::string& path, const ModelFileOptions& options) {
  const Reporter rep(options);
  const std::string file = fs::path(path).filename().string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such file");
  if (!is_checkpoint_path(path)) {
    throw Error(path + ": not a checkpoint file actmap opens (.pkl, .pt, .pth, .ckpt, .safetensors); a model card is "
                "a .json file, and other formats need converting to one of these first");
  }
  OpenedModelFile out;
  try {
    out.source_sha256 = checkpoint_sha256(path, rep.counted(FileStage::Hash, "reading " + file));
    out.card = find_converted_card(out.source_sha256);
    if (!out.card.empty()) {
      out.from_cache = true;
      out.report = cached_report(out.card);
      return out;
    }
    const fs::path root = converted_models_dir();
    fs::create_directories(root, ec);
    if (ec) throw Error(root.string() + ": cannot create the cache of converted models: " + ec.message());
    const FileLock lock((root / (out.source_sha256 + ".lock")).string(), "converting " + file,
                        [&] { rep.say(FileStage::Wait, -1, "waiting for another actmap process converting " + file); },
                        [&] { return rep.cancelled(); });
    out.card = find_converted_card(out.source_sha256);  // another process may have finished it meanwhile
    if (!out.card.empty()) {
      out.from_cache = true;
      out.report = cached_report(out.card);
      return out;
    }
    // Under the lock, any temporary folder of this hash is a crashed conversion's.
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      if (entry.path().filename().string().rfind(out.source_sha256 + ".tmp-", 0) == 0) fs::remove_all(entry.path(), ec);
    }
    const fs::path tmp = root / (out.source_sha256 + ".tmp-" + std::to_string(::getpid()));
    fs::create_directories(tmp, ec);
    if (ec) throw Error(tmp.string() + ": cannot create: " + ec.message());
    try {
      Converted c = read_checkpoint(path, ImportOptions{}, rep);
      require_generator(path, c);
      rep.check();
      out.report = write_model(c, path, out.source_sha256, (tmp / "weights.safetensors").string(), (tmp / "card.json").string(),
                               fs::path(path).stem().string(), "unknown: state the checkpoint's license", tmp.string(), "", rep);
      rep.check();
      const fs::path final_dir = converted_model_dir(out.source_sha256);
      if (std::rename(tmp.c_str(), final_dir.c_str()) != 0) {
        throw Error(final_dir.string() + ": cannot move the converted model into place: " + std::strerror(errno));
      }
    } catch (...) {
      fs::remove_all(tmp, ec);
      throw;
    }
    out.card = find_converted_card(out.source_sha256);
    return out;
  } catch (const Cancelled&) {
    OpenedModelFile cancelled;
    cancelled.cancelled = true;
    cancelled.source_sha256 = out.source_sha256;
    return cancelled;
  }
}

CheckpointConversionResult convert_checkpoint(const std::string& path, const std::string& weights_out,
                                              const std::string& card_out, const CheckpointConversion& conversion,
                                              const ModelFileOptions& options) {
  const Reporter rep(options);
  Converted c = read_checkpoint(path, conversion.import, rep);
  if (!card_out.empty() && !c.generator()) {
    throw Error("--card: " + path + " is not a StyleGAN2 or StyleGAN3 generator (no mapping.fc0.weight with synthesis.b4.const "
                "or synthesis.input.freqs after the key map), so its architecture cannot be read off the weights; write the card's layer list by hand "
                "(models/celeba32-fletcher.json is an example) and point it at " + weights_out);
  }
  if (!conversion.w_avg_file.empty() && !c.stylegan2) {
    throw Error("--w-avg: " + path + " is not a StyleGAN2 generator, so it has no average W");
  }
  // The scratch folders of conversions that were killed (actmap-convert-PID of a process gone).
  remove_dead_writers_leftovers(fs::temp_directory_path().string(), "actmap-convert-", "actmap-convert-");
  const fs::path scratch = fs::temp_directory_path() / ("actmap-convert-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(scratch, ec);
  if (ec) throw Error(scratch.string() + ": cannot create a scratch folder: " + ec.message());
  try {
    const std::string name = conversion.name.empty() ? fs::path(weights_out).stem().string() : conversion.name;
    CheckpointConversionResult out;
    out.report = write_model(c, path, "", weights_out, card_out, name, conversion.license, scratch.string(),
                             conversion.w_avg_file, rep);
    fs::remove_all(scratch, ec);
    out.format = c.r.format;
    out.prefix = c.r.prefix;
    out.key_map = c.r.key_map;
    out.tensors = c.r.tensors.size();
    for (const auto& [k, t] : c.r.tensors) out.parameters += static_cast<std::int64_t>(t.data.size());
    out.skipped = c.r.skipped;
    out.weights_bytes = fs::file_size(weights_out, ec);
    if (c.generator()) out.config = c.config;
    out.family = c.generator() ? c.family() : "";
    return out;
  } catch (...) {
    fs::remove_all(scratch, ec);
    throw;
  }
}

}  // namespace actmap
