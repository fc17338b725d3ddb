#include "fetch/download.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <curl/curl.h>

#include "actmap/io/error.h"

namespace fs = std::filesystem;

namespace actmap {
namespace {

void init_curl_once() {
  // curl_global_init is not thread-safe; a function-local static is initialised exactly once.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) throw Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(init));
}

std::string size_text(std::uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  return buf;
}

// The state of one transfer, shared with libcurl's callbacks.
struct Transfer {
  const DownloadRequest* request = nullptr;
  CURL* curl = nullptr;
  std::FILE* file = nullptr;
  std::uint64_t offset = 0;     // bytes in the part file before this transfer's body
  std::uint64_t received = 0;   // body bytes written by this transfer
  long range_start = -1;        // from the last response's Content-Range, -1 when it had none
  bool body_started = false;
  bool restarted = false;
  bool too_large = false;
  std::string error;            // why a callback stopped the transfer
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  bool cancelled() const { return request->cancel && request->cancel->load() != 0; }
  double bytes_per_second() const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s > 0 ? static_cast<double>(received) / s : 0.0;
  }
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) t->range_start = -1;  // a new response (after a redirect)
  // "Content-Range: bytes START-END/TOTAL", header names in any case.
  static const char kName[] = "content-range:";
  if (line.size() > sizeof kName && strncasecmp(line.c_str(), kName, sizeof kName - 1) == 0) {
    unsigned long long start = 0;
    if (std::sscanf(line.c_str() + sizeof kName - 1, " bytes %llu-", &start) == 1) t->range_start = static_cast<long>(start);
  }
  return size * count;
}

// Opens the part file when the first body byte arrives: appended to for a 206 that continues it,
// started over for a 200 (a server that ignores Range sends the whole file).
bool start_body(Transfer* t) {
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  const std::string& part = t->request->part;
  if (status == 206) {
    if (t->range_start != static_cast<long>(t->offset)) {
      t->error = "the server answered the request for bytes from " + std::to_string(t->offset) +
                 " with bytes from " + std::to_string(t->range_start);
      return false;
    }
    t->file = std::fopen(part.c_str(), "ab");
  } else if (status == 200) {
    t->restarted = t->offset > 0;
    t->offset = 0;
    t->file = std::fopen(part.c_str(), "wb");
  } else {
    t->error = "the server answered HTTP " + std::to_string(status);
    return false;
  }
  if (!t->file) {
    t->error = part + ": cannot write: " + std::strerror(errno);
    return false;
  }
  t->body_started = true;
  return true;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (t->cancelled()) return 0;
  if (!t->body_started && !start_body(t)) return 0;
  if (t->offset + t->received + bytes > t->request->expected_size) {
    t->too_large = true;
    return 0;
  }
  if (std::fwrite(data, 1, bytes, t->file) != bytes) {
    t->error = t->request->part + ": write failed: " + std::strerror(errno);
    return 0;
  }
  t->received += bytes;
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancelled()) return 1;
  if (t->request->progress && t->body_started) t->request->progress(t->offset + t->received, t->bytes_per_second());
  return 0;
}

bool looks_offline(CURLcode code, const Transfer& t) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return true;
    case CURLE_OPERATION_TIMEDOUT:
      return !t.body_started;  // the connect timeout, not a stalled transfer
    default:
      return false;
  }
}

std::uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

}  // namespace

DownloadOutcome download_to_part(const DownloadRequest& request) {
  init_curl_once();
  DownloadOutcome outcome;
  std::uint64_t have = file_size_or_zero(request.part);
  if (have > request.expected_size) {  // not a prefix of this file: start over
    fs::remove(request.part);
    have = 0;
  }
  if (have == request.expected_size) return outcome;  // complete already; the caller verifies it

  Transfer t;
  t.request = &request;
  t.offset = have;
  CURL* curl = curl_easy_init();
  if (!curl) throw Error("cannot start a download (curl_easy_init failed)");
  t.curl = curl;
  char message[CURL_ERROR_SIZE] = "";
  const std::string range = std::to_string(have) + "-";
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 8L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "actmap-fetch/1");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // safe on any thread
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer ends after 30 s
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message);
  if (have > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());  // a 200 answer is handled, not refused
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  const bool closed_ok = !t.file || std::fclose(t.file) == 0;

  outcome.resumed_from = t.body_started && !t.restarted ? t.offset : 0;
  outcome.restarted = t.restarted;
  const std::string why = message[0] ? message : curl_easy_strerror(code);
  if (t.cancelled()) {
    outcome.cancelled = true;
    return outcome;
  }
  if (t.too_large) {
    fs::remove(request.part);
    throw Error(request.url + ": the server sent more than the expected " + size_text(request.expected_size) +
                " (a different file?); the partial download was deleted");
  }
  if (!t.error.empty()) throw Error(request.url + ": " + t.error);
  if (looks_offline(code, t)) {
    throw Error("cannot reach " + request.url + ": " + why +
                "\nthis machine looks offline (no network, name resolution or route to the server); "
                "models already fetched keep working");
  }
  const std::uint64_t now = file_size_or_zero(request.part);
  const std::string kept = "; the partial file " + request.part + " (" + size_text(now) +
                           ") is kept: fetch again to resume";
  if (code != CURLE_OK) {
    throw Error(request.url + ": download interrupted after " + size_text(now) + " of " +
                size_text(request.expected_size) + " (" + why + ")" + (now > 0 ? kept : ""));
  }
  if (status != 200 && status != 206) throw Error(request.url + ": the server answered HTTP " + std::to_string(status));
  if (!closed_ok) throw Error(request.part + ": write failed: " + std::strerror(errno));
  if (now != request.expected_size) {
    throw Error(request.url + ": the server sent " + size_text(now) + " of the expected " +
                size_text(request.expected_size) + (now > 0 ? kept : ""));
  }
  return outcome;
}

}  // namespace actmap
