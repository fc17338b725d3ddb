#include "actmap/train/train_data.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "actmap/io/error.h"

namespace fs = std::filesystem;

namespace actmap {

std::vector<std::string> list_training_images(const std::string& dir, std::size_t* ignored) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(dir + ": no such directory (--data)");
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a directory (--data wants a folder of images)");
  std::vector<std::string> files;
  std::size_t other = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw Error(dir + ": cannot list: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(dir + ": cannot list: " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(it->path().string());
    else ++other;
  }
  if (ignored) *ignored = other;
  if (files.empty()) {
    throw Error(dir + ": no JPEG or PNG images (searched recursively; " + std::to_string(other) + " other files)");
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

// For each output position, the source positions it covers and how much of each (weights sum to 1).
struct Footprint {
  int first = 0;
  std::vector<float> weights;
};

std::vector<Footprint> area_footprints(int source, int target) {
  const double scale = static_cast<double>(source) / target;
  std::vector<Footprint> out(static_cast<std::size_t>(target));
  for (int o = 0; o < target; ++o) {
    const double a = o * scale, b = (o + 1) * scale;
    Footprint& f = out[static_cast<std::size_t>(o)];
    f.first = static_cast<int>(a);
    for (int i = f.first; i < source && i < b; ++i) {
      const double overlap = std::min<double>(i + 1, b) - std::max<double>(i, a);
      f.weights.push_back(static_cast<float>(std::max(0.0, overlap) / scale));
    }
  }
  return out;
}

}  // namespace

std::vector<float> crop_and_resize(const Image& im, int size) {
  if (im.width < 1 || im.height < 1 || im.channels < 1) throw Error("empty image");
  const int side = std::min(im.width, im.height);
  const int x0 = (im.width - side) / 2, y0 = (im.height - side) / 2;
  const int c = im.channels;
  const std::vector<Footprint> fp = area_footprints(side, size);
  // Rows first (only the rows inside the crop), then columns.
  std::vector<float> rows(static_cast<std::size_t>(side) * size * c, 0.0f);
  for (int y = 0; y < side; ++y) {
    const std::uint8_t* src = im.pixels.data() + (static_cast<std::size_t>(y0 + y) * im.width + x0) * c;
    float* dst = rows.data() + static_cast<std::size_t>(y) * size * c;
    for (int o = 0; o < size; ++o) {
      for (std::size_t k = 0; k < fp[o].weights.size(); ++k) {
        const std::uint8_t* p = src + static_cast<std::size_t>(fp[o].first + static_cast<int>(k)) * c;
        for (int ch = 0; ch < c; ++ch) dst[o * c + ch] += fp[o].weights[k] * p[ch];
      }
    }
  }
  std::vector<float> out(static_cast<std::size_t>(size) * size * c, 0.0f);
  for (int o = 0; o < size; ++o) {
    float* dst = out.data() + static_cast<std::size_t>(o) * size * c;
    for (std::size_t k = 0; k < fp[o].weights.size(); ++k) {
      const float* src = rows.data() + static_cast<std::size_t>(fp[o].first + static_cast<int>(k)) * size * c;
      for (int i = 0; i < size * c; ++i) dst[i] += fp[o].weights[k] * src[i];
    }
  }
  return out;
}

std::vector<float> to_training_pixels(const Image& im, const TrainingImageFormat& format) {
  const std::vector<float> hwc = crop_and_resize(im, format.size);
  const int c = im.channels, n = format.size * format.size;
  const bool grey_source = c < 3;  // grey or grey + alpha
  const double scale = (format.high - format.low) / 255.0;
  std::vector<float> chw(static_cast<std::size_t>(format.channels) * n);
  for (int i = 0; i < n; ++i) {
    const float* p = hwc.data() + static_cast<std::size_t>(i) * c;
    for (int k = 0; k < format.channels; ++k) {
      float v;
      if (format.channels == 1) v = grey_source ? p[0] : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
      else v = grey_source ? p[0] : p[k];
      chw[static_cast<std::size_t>(k) * n + i] = static_cast<float>(format.low + v * scale);
    }
  }
  return chw;
}

PrefetchLoader::PrefetchLoader(std::vector<std::string> files, TrainingImageFormat format, int threads,
                               BatchFiles files_of, std::int64_t first_batch, std::int64_t end_batch, int depth)
    : files_(std::move(files)),
      format_(format),
      files_of_(std::move(files_of)),
      next_scheduled_(first_batch),
      end_(end_batch),
      depth_(static_cast<std::size_t>(std::max(1, depth))) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    schedule_locked();
  }
  for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { work(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

void PrefetchLoader::schedule_locked() {
  const std::size_t per_image = static_cast<std::size_t>(format_.channels) * format_.size * format_.size;
  while (queue_.size() < depth_ && next_scheduled_ < end_) {
    auto p = std::make_unique<Pending>();
    p->items = files_of_(next_scheduled_++);
    p->pixels.resize(p->items.size() * per_image);
    p->errors.resize(p->items.size());
    queue_.push_back(std::move(p));
  }
  work_ready_.notify_all();
}

void PrefetchLoader::work() {
  const std::size_t per_image = static_cast<std::size_t>(format_.channels) * format_.size * format_.size;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    Pending* job = nullptr;
    work_ready_.wait(lock, [&] {
      if (stop_) return true;
      for (auto& p : queue_) {
        if (p->claimed < p->items.size()) {
          job = p.get();
          return true;
        }
      }
      return false;
    });
    if (stop_) return;
    const std::size_t i = job->claimed++;
    lock.unlock();
    // Each item owns its slice of the batch, so workers write without the lock; `done` (under the
    // lock) hands the finished batch to next().
    std::string error;
    try {
      const std::vector<float> px = to_training_pixels(read_image(files_[job->items[i]]), format_);
      std::copy(px.begin(), px.end(), job->pixels.begin() + static_cast<std::ptrdiff_t>(i * per_image));
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unreadable";
    }
    lock.lock();
    job->errors[i] = std::move(error);
    if (++job->done == job->items.size()) batch_done_.notify_all();
  }
}

TrainingBatch PrefetchLoader::next() {
  std::unique_ptr<Pending> p;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (queue_.empty()) throw Error("PrefetchLoader: no batch left (end is batch " + std::to_string(end_) + ")");
    batch_done_.wait(lock, [&] { return queue_.front()->done == queue_.front()->items.size(); });
    p = std::move(queue_.front());
    queue_.pop_front();
    schedule_locked();
  }
  const std::size_t per_image = static_cast<std::size_t>(format_.channels) * format_.size * format_.size;
  TrainingBatch b;
  b.pixels.reserve(p->pixels.size());
  for (std::size_t i = 0; i < p->items.size(); ++i) {
    if (!p->errors[i].empty()) {
      b.failed.push_back({files_[p->items[i]], p->errors[i]});
      continue;
    }
    const auto from = p->pixels.begin() + static_cast<std::ptrdiff_t>(i * per_image);
    b.pixels.insert(b.pixels.end(), from, from + static_cast<std::ptrdiff_t>(per_image));
    ++b.count;
  }
  return b;
}

}  // namespace actmap
