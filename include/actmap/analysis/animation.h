// Animations: a session whose numeric values (edit parameters, anything a JSON pointer addresses)
// sweep from one value to another, and/or whose latent walks through seeds, rendered frame by
// frame to a PNG sequence, a GIF or an MP4 (through ffmpeg). No LibTorch types here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/io/image.h"
#include "actmap/io/progress.h"
#include "actmap/session/session.h"

namespace actmap {

class Renderer;

// Where a latent walk interpolates. Z: spherical interpolation (slerp) between the seeds' z.
enum class WalkSpace { Z };

class Animation {
 public:
  // `source` names the session in messages (its file path).
  Animation(Session base, int frames, std::string source);

  // Sweeps the number at `pointer` (RFC 6901, into the session document as saved) linearly from
  // `from` to `to`. Integers in the document stay integers (rounded). Checks the pointer and both
  // end values now; errors name the pointer and the value at fault.
  void sweep(const std::string& pointer, double from, double to);
  // Walks the latent through `seeds` (at least 2): frame 0 is the first seed, the last frame the
  // last seed, the segments between them equally long.
  void walk_seeds(const std::vector<std::uint64_t>& seeds, WalkSpace space = WalkSpace::Z);

  int frames() const { return frames_; }
  double value(int frame) const;       // the swept value at a frame (from when nothing is swept)
  Session frame(int frame) const;      // the session of a frame
  const Session& base() const { return base_; }

 private:
  Session base_;
  int frames_;
  std::string source_;
  ModelCard card_;
  nlohmann::json doc_;        // the base session as a document
  std::string pointer_;       // "" when nothing is swept
  double from_ = 0, to_ = 0;
  bool integer_ = false;
  std::vector<std::uint64_t> seeds_;
  WalkSpace space_ = WalkSpace::Z;
};

// The JSON pointers of the session's numeric edit parameters (/edits/I/params/NAME), for pickers
// and error messages.
std::vector<std::string> numeric_pointers(const Session& session);
// The same plus the synthesis settings the card's family reads, at their defaults too:
// /synthesis/truncation_psi (StyleGAN2, StyleGAN3), /synthesis/input_rotate and
// /synthesis/input_translate/0 and /1 (StyleGAN3). Animation::sweep takes them all.
std::vector<std::string> numeric_pointers(const Session& session, const ModelCard& card);

// Nearest-neighbour enlargement by a whole factor (1: unchanged).
Image enlarge_nearest(const Image& image, int factor);

// The path of an executable on PATH, "" when there is none.
std::string find_program(const std::string& name);

// Where frames go: OUT ending in ".gif" or ".mp4" is a video written by ffmpeg (to a temporary
// file renamed into place when finished), anything else a directory of frame-NNNN.png.
class FrameWriter {
 public:
  FrameWriter(std::string out, double fps, int frames);
  ~FrameWriter();  // without finish(): stops ffmpeg and removes what was written
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  void add(const Image& frame);  // every frame the same size
  // A directory writer whose next frame is `frame` (not 0): a shard of the frames (--shard).
  void start_at(int frame);
  void finish();
  bool video() const { return video_; }
  const std::string& out() const { return out_; }

 private:
  void abort();
  std::string out_, tmp_, log_;
  double fps_;
  int frames_, written_ = 0;
  bool video_ = false;
  int pipe_ = -1;
  long pid_ = -1;
  int width_ = 0, height_ = 0;
};

// Renders every frame with one renderer (so a swept edit re-runs only from its tap), enlarges it
// by `scale` and hands it to `writer`. Progress counts frames.
void render_animation(Renderer& renderer, const Animation& animation, int scale, FrameWriter& writer,
                      const ProgressFn& progress = {});

// Only the frames first .. end-1 (a shard, e.g. actmap-cli animate --shard K/N), to a directory
// writer: each under the name it has in the whole animation. Progress counts these frames.
void render_animation_frames(Renderer& renderer, const Animation& animation, int scale, int first, int end,
                             FrameWriter& writer, const ProgressFn& progress = {});

// The file name of frame `frame` of `frames` in a frame directory: frame-NNNN.png (at least four
// digits, more when the frame count needs them).
std::string frame_file_name(int frame, int frames);

// Seed lists: "3,7,12" (at least two) for --seed-walk. Errors name the text.
std::vector<std::uint64_t> parse_seed_list(const std::string& text);

// A slerp between two latents; t = 0 and t = 1 return a and b exactly.
std::vector<float> slerp(const std::vector<float>& a, const std::vector<float>& b, double t);

}  // namespace actmap
