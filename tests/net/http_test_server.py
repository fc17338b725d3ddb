"""A local HTTP server for the download tests (standard library only).

Usage: http_test_server.py ROOT [--log FILE]
Binds 127.0.0.1 on a free port, prints the port on the first line of stdout, and serves the files
under ROOT at /MODE/NAME:

  ok       the file, honouring Range requests (bytes=START- and bytes=START-END: 206 + Content-Range)
  corrupt  the file with one byte changed (same size), honouring Range
  drop-N   the first request for this path sends the headers of the whole answer but only N body
           bytes, then closes the connection; later requests are served as `ok`
  norange  ignores Range: always 200 and the whole file
  slow-N   as `ok`, at about N bytes per second

Each request is appended to the log as one JSON line: {"path", "range", "status"}.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
log_lock = threading.Lock()
dropped = set()  # paths whose drop has happened


def log(entry):
    if not args.log:
        return
    with log_lock, open(args.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):  # quiet: the JSON log says what happened
        pass

    def do_GET(self):
        parts = self.path.lstrip("/").split("/", 1)
        mode, name = (parts + [""])[:2]
        path = os.path.join(args.root, name)
        range_header = self.headers.get("Range")
        if not name or "/" in name or not os.path.isfile(path):
            return self.answer_error(404, range_header)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        if mode == "corrupt" and data:
            data[len(data) // 2] ^= 0xFF

        start, end = 0, len(data)
        status = 200
        if range_header and mode != "norange":
            spec = range_header.strip()
            if not spec.startswith("bytes=") or "," in spec:
                return self.answer_error(416, range_header)
            first, _, last = spec[len("bytes="):].partition("-")
            if not first.isdigit() or int(first) >= len(data) or (last and not last.isdigit()):
                return self.answer_error(416, range_header)
            start = int(first)
            end = min(len(data), int(last) + 1) if last else len(data)
            status = 206

        log({"path": self.path, "range": range_header, "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "none" if mode == "norange" else "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        body = bytes(data[start:end])
        try:
            if mode.startswith("drop-") and self.path not in dropped:
                dropped.add(self.path)
                self.wfile.write(body[: int(mode[len("drop-"):])])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif mode.startswith("slow-"):
                rate = max(1, int(mode[len("slow-"):]))
                chunk = max(1, rate // 20)
                for i in range(0, len(body), chunk):
                    self.wfile.write(body[i:i + chunk])
                    self.wfile.flush()
                    time.sleep(chunk / rate)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped (a cancelled download)

    def answer_error(self, status, range_header):
        log({"path": self.path, "range": range_header, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--log")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    os.close(sys.stdout.fileno())  # the test reads only the port
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
