#include "actmap/analysis/animation.h"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "actmap/model/latent.h"
#include "actmap/render/renderer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {

// ---- The frames' sessions ------------------------------------------------------------------------

namespace {
// Every synthesis setting the card's family reads, defaults included.
json synthesis_json(const SynthesisOptions& o, const ModelCard& card) {
  json j = o.to_json();
  if (card.stylegan3) {
    j["input_rotate"] = o.input_rotate;
    j["input_translate"] = {o.input_translate[0], o.input_translate[1]};
  }
  return j;
}
}  // namespace


Animation::Animation(Session base, int frames, std::string source)
    : base_(std::move(base)), frames_(frames), source_(std::move(source)) {
  if (frames_ < 1) throw Error("--frames: need at least 1 frame, got " + std::to_string(frames_));
  card_ = load_model_card(base_.card_path);
  doc_ = session_to_json(base_, base_.base_dir);
}

void Animation::sweep(const std::string& pointer, double from, double to) {
  if (!std::isfinite(from) || !std::isfinite(to)) throw Error("--from and --to must be finite numbers");
  json::json_pointer ptr;
  try {
    ptr = json::json_pointer(pointer);
  } catch (const json::exception&) {
    throw Error("--param '" + pointer + "' is not a JSON pointer: it starts with '/', e.g. /edits/0/params/degrees");
  }
  bool found = false;
  try {
    found = !pointer.empty() && doc_.contains(ptr);
  } catch (const json::exception&) {
  }
  // Synthesis settings at their defaults are not written, but sweep from them all the same
  // (truncation of StyleGAN2 and 3, a StyleGAN3's input transform).
  if (!found && pointer.rfind("/synthesis/", 0) == 0 && card_.w_plus()) {
    json doc = doc_;
    doc["synthesis"] = synthesis_json(base_.synthesis, card_);
    try {
      found = doc.contains(ptr);
    } catch (const json::exception&) {
    }
    if (found) doc_ = std::move(doc);
  }
  if (!found) {
    std::string known;
    for (const auto& p : numeric_pointers(base_, card_)) known += (known.empty() ? "" : ", ") + p;
    throw Error("--param " + pointer + ": " + source_ + " has no value there (numeric parameters: " +
                (known.empty() ? "none" : known) + ")");
  }
  const json& v = doc_.at(ptr);
  if (!v.is_number()) {
    throw Error("--param " + pointer + ": the value there is " + v.dump().substr(0, 60) + ", not a number");
  }
  pointer_ = pointer;
  integer_ = v.is_number_integer();
  from_ = from;
  to_ = to;
  // Both ends must be valid sessions before anything renders.
  frame(0);
  frame(frames_ - 1);
}

void Animation::walk_seeds(const std::vector<std::uint64_t>& seeds, WalkSpace space) {
  if (seeds.size() < 2) throw Error("--seed-walk: need at least two seeds");
  seeds_ = seeds;
  space_ = space;
}

double Animation::value(int i) const {
  if (frames_ == 1 || i <= 0) return from_;
  if (i >= frames_ - 1) return to_;
  return from_ + (to_ - from_) * double(i) / double(frames_ - 1);
}

Session Animation::frame(int i) const {
  if (i < 0 || i >= frames_) throw Error("frame " + std::to_string(i) + " out of range 0.." + std::to_string(frames_ - 1));
  Session s = base_;
  if (!pointer_.empty()) {
    const double v = value(i);
    const json value_json = integer_ ? json(static_cast<std::int64_t>(std::llround(v))) : json(v);
    if (pointer_.rfind("/edits/", 0) == 0) {
      // Only the edits change: re-read them alone (the card and weights were checked already).
      json edits = {{"edits", doc_.at("edits")}};
      edits[json::json_pointer(pointer_)] = value_json;
      try {
        s.edits = edits_from_json(edits, "", base_.base_dir);
        check_session_against_card(s, card_);
      } catch (const Error& e) {
        throw Error(source_ + ": " + e.what());
      }
    } else {
      json doc = doc_;
      doc[json::json_pointer(pointer_)] = value_json;
      const std::string where = (fs::path(base_.base_dir.empty() ? "." : base_.base_dir) / fs::path(source_).filename()).string();
      s = parse_session(doc.dump(), where);
    }
  }
  if (!seeds_.empty()) {
    const std::size_t m = seeds_.size();
    std::size_t seg = m - 2;
    double local = 1.0;
    if (i < frames_ - 1) {
      const double t = frames_ == 1 ? 0.0 : double(i) / double(frames_ - 1) * double(m - 1);
      seg = std::min(static_cast<std::size_t>(t), m - 2);
      local = t - double(seg);
    }
    if (local <= 0.0) {
      s.latent = SessionLatent::from_seed(seeds_[seg]);
    } else if (local >= 1.0) {
      s.latent = SessionLatent::from_seed(seeds_[seg + 1]);
    } else {
      const LatentSpec& spec = card_.latent;
      s.latent = SessionLatent::from_z(slerp(latent_from_seed(seeds_[seg], spec), latent_from_seed(seeds_[seg + 1], spec), local));
    }
  }
  return s;
}

std::vector<std::string> numeric_pointers(const Session& s, const ModelCard& card) {
  std::vector<std::string> out = numeric_pointers(s);
  if (!card.w_plus()) return out;
  out.push_back("/synthesis/truncation_psi");
  if (card.stylegan3) {
    for (const char* p : {"/synthesis/input_rotate", "/synthesis/input_translate/0", "/synthesis/input_translate/1"}) out.push_back(p);
  }
  return out;
}

std::vector<std::string> numeric_pointers(const Session& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.edits.size(); ++i) {
    for (const auto& [name, v] : s.edits[i].params.items()) {
      if (v.is_number()) out.push_back("/edits/" + std::to_string(i) + "/params/" + name);
    }
  }
  return out;
}

std::vector<float> slerp(const std::vector<float>& a, const std::vector<float>& b, double t) {
  if (a.size() != b.size()) throw Error("slerp: latents of different sizes");
  if (t <= 0.0) return a;
  if (t >= 1.0) return b;
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  const double cosw = na > 0 && nb > 0 ? std::clamp(dot / std::sqrt(na * nb), -1.0, 1.0) : 1.0;
  const double w = std::acos(cosw), sw = std::sin(w);
  const double ka = sw < 1e-9 ? 1.0 - t : std::sin((1.0 - t) * w) / sw;
  const double kb = sw < 1e-9 ? t : std::sin(t * w) / sw;
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = static_cast<float>(ka * a[i] + kb * b[i]);
  return out;
}

std::vector<std::uint64_t> parse_seed_list(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 19) {
      throw Error("--seed-walk: '" + item + "' in '" + text + "' is not a seed (expected A,B,... with non-negative integers)");
    }
    seeds.push_back(std::stoull(item));
  }
  if (seeds.size() < 2) throw Error("--seed-walk: '" + text + "' names fewer than two seeds (expected A,B,...)");
  return seeds;
}

// ---- Frames out ----------------------------------------------------------------------------------

Image enlarge_nearest(const Image& image, int factor) {
  if (factor < 1) throw Error("--scale must be at least 1, got " + std::to_string(factor));
  if (factor == 1) return image;
  Image out;
  out.width = image.width * factor;
  out.height = image.height * factor;
  out.channels = image.channels;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * out.channels);
  const std::size_t c = static_cast<std::size_t>(image.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const std::size_t src = (static_cast<std::size_t>(y / factor) * image.width + x / factor) * c;
      std::memcpy(&out.pixels[(static_cast<std::size_t>(y) * out.width + x) * c], &image.pixels[src], c);
    }
  }
  return out;
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const std::string p = (fs::path(dir.empty() ? "." : dir) / name).string();
    if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return p;
  }
  return "";
}

namespace {

std::string lower_extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  for (char& ch : e) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return e;
}

}  // namespace

FrameWriter::FrameWriter(std::string out, double fps, int frames) : out_(std::move(out)), fps_(fps), frames_(frames) {
  if (!(fps_ > 0 && fps_ <= 1000)) throw Error("--fps must be in (0, 1000], got " + std::to_string(fps_));
  const std::string ext = lower_extension(out_);
  video_ = ext == ".gif" || ext == ".mp4";
  if (!video_ && !ext.empty() && ext != "/" && !fs::is_directory(out_)) {
    throw Error(out_ + ": unknown output type '" + ext + "': use .mp4, .gif or a directory (for frame-NNNN.png)");
  }
  if (video_ && find_program("ffmpeg").empty()) {
    throw Error("writing " + out_ + " needs ffmpeg, which is not on PATH: install it (apt-get install ffmpeg, or "
                "bash cmake/install-deps.sh), or write PNG frames with -o DIR/");
  }
  if (!video_) {
    std::error_code ec;
    fs::create_directories(out_, ec);
    if (ec) throw Error(out_ + ": cannot create directory: " + ec.message());
  }
}

FrameWriter::~FrameWriter() {
  if (pid_ > 0 || (video_ && !tmp_.empty())) abort();
}

void FrameWriter::abort() {
  if (pipe_ >= 0) ::close(pipe_);
  pipe_ = -1;
  if (pid_ > 0) {
    ::kill(static_cast<pid_t>(pid_), SIGTERM);
    int status = 0;
    ::waitpid(static_cast<pid_t>(pid_), &status, 0);
  }
  pid_ = -1;
  std::error_code ec;
  if (!tmp_.empty()) fs::remove(tmp_, ec);
  if (!log_.empty()) fs::remove(log_, ec);
  tmp_.clear();
}

void FrameWriter::add(const Image& frame) {
  if (written_ == 0 || width_ == 0) {  // the first frame written (a shard may start later)
    width_ = frame.width;
    height_ = frame.height;
  } else if (frame.width != width_ || frame.height != height_) {
    throw Error("frame " + std::to_string(written_) + " is " + std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                ", the first was " + std::to_string(width_) + "x" + std::to_string(height_));
  }
  if (!video_) {
    write_png((fs::path(out_) / frame_file_name(written_, frames_)).string(), frame);
    ++written_;
    return;
  }
  if (pid_ < 0) {
    // A write to an ffmpeg that quit must fail with EPIPE here, not end the process.
    struct sigaction old {};
    sigaction(SIGPIPE, nullptr, &old);
    if (old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
    const fs::path target(out_);
    const std::string stem = "." + target.filename().string() + ".tmp-" + std::to_string(::getpid());
    tmp_ = (target.parent_path() / (stem + lower_extension(out_))).string();
    log_ = (fs::temp_directory_path() / ("actmap-ffmpeg-" + std::to_string(::getpid()) + ".log")).string();
    const std::string size = std::to_string(width_) + "x" + std::to_string(height_);
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", fps_);
    const char* pix = frame.channels == 1 ? "gray" : frame.channels == 4 ? "rgba" : "rgb24";
    std::vector<std::string> args = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix,
                                     "-s", size, "-framerate", rate, "-i", "-"};
    if (lower_extension(out_) == ".gif") {
      for (const char* a : {"-vf", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none", "-loop", "0"}) args.push_back(a);
    } else {
      for (const char* a : {"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12",
                            "-movflags", "+faststart"}) args.push_back(a);
    }
    args.push_back(tmp_);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("cannot start ffmpeg: pipe: " + std::string(std::strerror(errno)));
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw Error("cannot start ffmpeg: fork: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
      ::dup2(fds[0], 0);
      const int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("ffmpeg", argv.data());
      _exit(127);
    }
    ::close(fds[0]);
    pipe_ = fds[1];
    pid_ = pid;
  }
  const std::uint8_t* p = frame.pixels.data();
  std::size_t left = frame.pixels.size();
  while (left > 0) {
    const ssize_t n = ::write(pipe_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      finish();  // reports ffmpeg's own message
      throw Error("ffmpeg stopped reading frames for " + out_);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ++written_;
}

void FrameWriter::start_at(int frame) {
  if (video_) throw Error(out_ + ": a video is written from its first frame; write a shard of frames to a directory");
  if (frame < 0 || frame >= std::max(1, frames_)) {
    throw Error("frame " + std::to_string(frame) + " out of range 0.." + std::to_string(frames_ - 1));
  }
  written_ = frame;
}

std::string frame_file_name(int frame, int frames) {
  const int digits = std::max(4, static_cast<int>(std::to_string(std::max(1, frames) - 1).size()));
  char name[64];
  std::snprintf(name, sizeof name, "frame-%0*d.png", digits, frame);
  return name;
}

void FrameWriter::finish() {
  if (!video_) return;
  if (pid_ < 0) {
    if (written_ == 0) throw Error(out_ + ": no frames to write");
    return;
  }
  ::close(pipe_);
  pipe_ = -1;
  int status = 0;
  ::waitpid(static_cast<pid_t>(pid_), &status, 0);
  pid_ = -1;
  std::string log;
  {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    log = ss.str();
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    abort();
    while (!log.empty() && (log.back() == '\n' || log.back() == '\r')) log.pop_back();
    throw Error("ffmpeg failed writing " + out_ + (log.empty() ? "" : ": " + log.substr(log.size() > 400 ? log.size() - 400 : 0)));
  }
  std::error_code ec;
  fs::remove(log_, ec);
  log_.clear();
  fs::rename(tmp_, out_, ec);
  if (ec) {
    abort();
    throw Error(out_ + ": cannot move the finished video into place: " + ec.message());
  }
  tmp_.clear();
}

void render_animation(Renderer& renderer, const Animation& animation, int scale, FrameWriter& writer,
                      const ProgressFn& progress) {
  render_animation_frames(renderer, animation, scale, 0, animation.frames(), writer, progress);
  writer.finish();
}

void render_animation_frames(Renderer& renderer, const Animation& animation, int scale, int first, int end,
                             FrameWriter& writer, const ProgressFn& progress) {
  if (first < 0 || end > animation.frames() || first > end) {
    throw Error("frames " + std::to_string(first) + ".." + std::to_string(end - 1) + " are not within the animation's " +
                std::to_string(animation.frames()));
  }
  if (first > 0 && first < end) writer.start_at(first);
  const ModelCard& card = renderer.generator().card();
  report_progress(progress, 0, end - first);
  for (int i = first; i < end; ++i) {
    const RenderResult r = render_session(renderer, animation.frame(i));
    writer.add(enlarge_nearest(output_to_images(r.output, card).front(), scale));
    report_progress(progress, i - first + 1, end - first);
  }
}

}  // namespace actmap
