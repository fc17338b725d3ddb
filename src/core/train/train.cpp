// The training run: data order, the loop, checkpoints, samples, and the trained model's card.
#include <chrono>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <numeric>
#include <set>

#include <unistd.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/model/device.h"
#include "actmap/model/generator.h"
#include "actmap/model/latent.h"
#include "actmap/train/train.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

// The order of epoch `epoch`: Fisher-Yates driven by SplitMix64 of (seed, epoch), so it is the same
// on every machine and standard library (std::shuffle's algorithm is not specified).
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  SplitMix64 rng(SplitMix64(~seed).next() + static_cast<std::uint64_t>(epoch));
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  return order;
}

// Identifies the data set, so a checkpoint is not resumed on different files.
std::string data_fingerprint(const std::vector<std::string>& files, const std::string& dir) {
  std::string all;
  for (const auto& f : files) all += fs::path(f).lexically_relative(dir).generic_string() + "\n";
  return sha256_hex(all.data(), all.size());
}

void make_writable_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error(what + ": cannot create directory '" + dir.string() + "'" + (ec ? ": " + ec.message() : ""));
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw Error(what + ": cannot write into '" + dir.string() + "': " + std::strerror(errno));
  }
}

std::string numbered(const char* format, std::int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, static_cast<long long>(n));
  return buf;
}

// A resumed run must see the same setup, or it would not continue the same run.
void check_same(const json& pos, const char* key, const json& now, const std::string& ckpt, const std::string& option) {
  if (pos.at(key) != now) {
    throw Error(ckpt + ": the checkpoint was written with " + option + " " + pos.at(key).dump() + ", this run has " +
                now.dump() + " (resume with the same " + option + ")");
  }
}

}  // namespace

TrainSummary train_gan(const TrainOptions& o, const std::function<void(const TrainProgress&)>& progress) {
  if (o.epochs < 1) throw Error("--epochs must be at least 1, got " + std::to_string(o.epochs));
  if (o.batch < 2) throw Error("--batch must be at least 2 (batch norm needs two images), got " + std::to_string(o.batch));
  if (o.sample_count < 1) throw Error("the sample grid needs at least one image");
  set_cpu_threads(o.threads);  // fixed thread count: LibTorch's reductions then split the same way every run
  check_device(o.device);
  const ModelCard card = load_model_card(o.card);
  const TrainingImageFormat format = training_format(card, o.size);

  TrainSummary sum;
  const std::vector<std::string> files = list_training_images(o.data, &sum.ignored_files);
  const auto batch = static_cast<std::size_t>(o.batch);
  const auto per_epoch = static_cast<std::int64_t>(files.size() / batch);
  if (per_epoch == 0) {
    throw Error(o.data + ": " + std::to_string(files.size()) + " images, fewer than one batch of " +
                std::to_string(o.batch) + " (--batch)");
  }

  // Every output is checked before training starts, not found unwritable an hour later.
  const fs::path out(o.out);
  if (out.empty()) throw Error("no output card given (-o OUT.json)");
  if (fs::is_directory(out)) throw Error(o.out + ": is a directory; -o names the card to write, e.g. " + (out / "model.json").string());
  std::error_code ec;
  if (fs::exists(out) && fs::equivalent(out, o.card, ec)) throw Error(o.out + ": would overwrite the input card");
  const std::string stem = fs::path(out).replace_extension().string();
  sum.card = o.out;
  sum.weights = stem + ".safetensors";
  sum.checkpoint = stem + "-checkpoint.safetensors";
  const std::string samples_dir = o.samples_dir.empty() ? stem + "-samples" : o.samples_dir;
  make_writable_dir(out.parent_path().empty() ? fs::path(".") : out.parent_path(), o.out);
  make_writable_dir(samples_dir, "--samples-dir");

  GanTrainer trainer(card, o.seed, o.device);
  const std::string fingerprint = data_fingerprint(files, o.data);
  std::map<std::int64_t, std::vector<std::size_t>> orders;  // by epoch; the current and the next
  auto order_of = [&](std::int64_t epoch) -> const std::vector<std::size_t>& {
    auto it = orders.find(epoch);
    if (it == orders.end()) it = orders.emplace(epoch, epoch_order(files.size(), o.seed, epoch)).first;
    orders.erase(orders.begin(), orders.lower_bound(epoch - 1));
    return it->second;
  };
  std::set<std::string> unreadable_paths;
  auto position = [&](std::int64_t step) {
    json bad = json::array();
    for (const auto& u : sum.unreadable) bad.push_back({u.path, u.reason});
    return json{{"step", step},
                {"epoch", step / per_epoch},
                {"epoch_step", step % per_epoch},
                {"order", order_of(step / per_epoch)},
                {"seed", o.seed},
                {"batch", o.batch},
                {"size", format.size},
                {"threads", cpu_threads()},
                {"card", o.card},
                {"data", {{"dir", o.data}, {"images", files.size()}, {"list_sha256", fingerprint}}},
                {"unreadable", bad},
                {"rng", "no state to keep: step k's latents come from a LibTorch CPU generator seeded with "
                        "SplitMix64 of (seed, k), epoch e's order from SplitMix64 of (seed, e)"}};
  };

  std::int64_t step = 0;
  if (!o.resume.empty()) {
    const json pos = trainer.load_checkpoint(o.resume);
    try {
      check_same(pos, "seed", o.seed, o.resume, "--seed");
      check_same(pos, "batch", o.batch, o.resume, "--batch");
      check_same(pos, "size", format.size, o.resume, "--size");
      if (pos.at("data").at("list_sha256") != fingerprint) {
        throw Error(o.resume + ": the checkpoint was trained on other files (" + pos["data"]["images"].dump() +
                    " images in " + pos["data"]["dir"].dump() + ") than " + o.data + " holds now (" +
                    std::to_string(files.size()) + ")");
      }
      step = pos.at("step").get<std::int64_t>();
      orders[step / per_epoch] = pos.at("order").get<std::vector<std::size_t>>();
      for (const auto& u : pos.at("unreadable")) {
        sum.unreadable.push_back({u.at(0).get<std::string>(), u.at(1).get<std::string>()});
        unreadable_paths.insert(sum.unreadable.back().path);
      }
      if (pos.at("threads").get<int>() != cpu_threads()) {
        warn(o.resume + ": written with " + pos["threads"].dump() + " threads, resumed with " +
             std::to_string(cpu_threads()) + ": the result will not be bit-identical to an uninterrupted run");
      }
    } catch (const json::exception& e) {
      throw Error(o.resume + ": bad training position in the checkpoint: " + e.what());
    }
  }

  const std::int64_t total = per_epoch * o.epochs;
  const std::int64_t end = o.max_steps > 0 ? std::min(total, o.max_steps) : total;
  auto files_of = [&](std::int64_t k) {
    const std::vector<std::size_t>& order = order_of(k / per_epoch);
    const auto first = order.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(k % per_epoch) * batch);
    return std::vector<std::size_t>(first, first + static_cast<std::ptrdiff_t>(batch));
  };
  const at::Tensor sample_z = latents_from_seeds(card.latent, o.seed, o.sample_count, o.device);
  auto write_samples = [&](const std::string& name) {
    const std::string path = (fs::path(samples_dir) / name).string();
    write_png(path, tile_images(output_to_images(trainer.generate(sample_z), card)));
    sum.samples.push_back(path);
  };

  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const std::int64_t first_step = step;
  std::int64_t images = 0;
  std::deque<GanTrainer::Losses> recent;  // for the final losses: single steps are noisy
  {
    PrefetchLoader loader(files, format, o.loader_threads, files_of, step, end);
    while (step < end) {
      if (o.stop && o.stop->load() != 0) {
        sum.interrupted_by = o.stop->load();
        break;
      }
      TrainingBatch b = loader.next();
      for (auto& f : b.failed) {
        if (unreadable_paths.insert(f.path).second) sum.unreadable.push_back(std::move(f));
      }
      GanTrainer::Losses losses;
      if (b.count >= 2) {  // else (nearly every file of the batch unreadable) the step is skipped
        const at::Tensor real = at::from_blob(b.pixels.data(), {b.count, format.channels, format.size, format.size}, at::kFloat);
        losses = trainer.step(real, trainer.latents(step, b.count));
        images += b.count;
        recent.push_back(losses);
        if (recent.size() > 100) recent.pop_front();
      }
      ++step;
      const bool epoch_done = step % per_epoch == 0;
      if (progress) {
        TrainProgress p;
        p.step = step;
        p.end_step = end;
        p.epoch = static_cast<int>((step - 1) / per_epoch) + 1;
        p.epochs = o.epochs;
        p.epoch_step = (step - 1) % per_epoch + 1;
        p.steps_per_epoch = per_epoch;
        p.d_loss = losses.d;
        p.g_loss = losses.g;
        const double t = seconds();
        p.images_per_second = t > 0 ? images / t : 0;
        p.eta_seconds = t / static_cast<double>(step - first_step) * static_cast<double>(end - step);
        p.epoch_done = epoch_done;
        progress(p);
      }
      if (epoch_done) write_samples(numbered("epoch-%03lld.png", step / per_epoch));
      if (epoch_done || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0)) {
        trainer.save_checkpoint(sum.checkpoint, position(step));
      }
    }
  }
  sum.steps = step;
  sum.seconds = seconds();
  sum.images_per_second = sum.seconds > 0 ? images / sum.seconds : 0;
  for (const auto& l : recent) {
    sum.d_loss += l.d / static_cast<double>(recent.size());
    sum.g_loss += l.g / static_cast<double>(recent.size());
  }
  sum.images = files.size() - sum.unreadable.size();
  trainer.save_checkpoint(sum.checkpoint, position(step));
  if (sum.interrupted_by) return sum;
  if (step % per_epoch != 0 && step > first_step) write_samples(numbered("step-%06lld.png", step));

  const std::string weights_bytes = encode_safetensors(trainer.generator_weights());
  write_file_atomic(sum.weights, weights_bytes);
  json doc = card.document;  // family, config or layers, latent, output, tap names: as given
  doc["actmap_model_card"] = 1;
  doc["name"] = fs::path(stem).filename().string();
  doc["description"] = "Trained with actmap-cli train from " + o.card + " on " + o.data + " (" +
                       std::to_string(sum.images) + " images, " + std::to_string(step) + " steps of " +
                       std::to_string(o.batch) + ").";
  doc["license"] = "the terms of the training data (" + o.data + ") apply";
  doc["weights"] = {{"path", fs::path(sum.weights).filename().string()},
                    {"sha256", sha256_hex(weights_bytes.data(), weights_bytes.size())}};
  json bad = json::array();
  for (std::size_t i = 0; i < sum.unreadable.size() && i < 20; ++i) bad.push_back(sum.unreadable[i].path);
  doc["training"] = {
      {"command", o.command_line},
      {"source_card", o.card},
      {"data", o.data},
      {"images", sum.images},
      {"unreadable_images", sum.unreadable.size()},
      {"unreadable_first", bad},
      {"epochs", o.epochs},
      {"epochs_completed", static_cast<double>(step) / static_cast<double>(per_epoch)},
      {"steps", step},
      {"batch", o.batch},
      {"seed", o.seed},
      {"size", format.size},
      {"device", o.device},
      {"threads", cpu_threads()},
      {"resumed_from", o.resume.empty() ? json(nullptr) : json(o.resume)},
      {"discriminator_widths", trainer.discriminator_widths()},
      {"optimizer", "Adam, lr 0.0002, betas (0.5, 0.999), for G and D"},
      {"loss", "non-saturating: BCE with logits; D on real = 1, fake = 0; G on D(G(z)) = 1"},
      {"final_losses", {{"d", sum.d_loss}, {"g", sum.g_loss}, {"mean_over_last_steps", recent.size()}}},
      {"images_per_second", sum.images_per_second},
      {"seconds", sum.seconds},
  };
  write_file_atomic(o.out, doc.dump(2) + "\n");
  return sum;
}

}  // namespace actmap
