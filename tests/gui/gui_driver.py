"""Drives the real actmap window under Xvfb with real X input (xdotool), the way a person would.

The editor, started with --ui-map FILE, keeps a JSON map of where its named widgets are and a few
state values (revision, settled, dirty, ...). The driver reads it to know where to click and when
the window has caught up; every interaction is an X event sent by xdotool.
"""

import atexit
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77


class Skip(Exception):
    pass


def need(program):
    path = shutil.which(program)
    if not path:
        raise Skip(f"{program} is not installed (Debian: apt-get install xvfb xdotool)")
    return path


class Display:
    """A private Xvfb server; DISPLAY for the children."""

    def __init__(self, width=1700, height=1100):
        need("Xvfb")
        need("xdotool")
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        number = b""
        deadline = time.time() + 20
        while not number.endswith(b"\n") and time.time() < deadline:
            chunk = os.read(r, 16)
            if not chunk:
                break
            number += chunk
        os.close(r)
        if not number.strip():
            self.proc.kill()
            raise RuntimeError("Xvfb did not start")
        self.env = dict(os.environ, DISPLAY=":" + number.decode().strip())

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Editor:
    def __init__(self, app, display, args, workdir):
        self.display = display
        self.map_path = os.path.join(workdir, "ui-map.json")
        if os.path.exists(self.map_path):
            os.remove(self.map_path)  # an earlier editor's map would pass for this one's
        self.log = open(os.path.join(workdir, "actmap.log"), "w")
        env = dict(display.env)
        env["XDG_STATE_HOME"] = os.path.join(workdir, "state")
        env["XDG_CONFIG_HOME"] = os.path.join(workdir, "config")
        self.proc = subprocess.Popen([app, "--ui-map", self.map_path, "--size", "1600x1000", "--scale", "1"] + args,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)

    def ready(self):
        """Waits for the first frame, then moves the pointer out of the window and back in: GLFW
        reads the pointer only while its window has focus, which X gives (without a window
        manager) when the pointer enters it."""
        self.wait("the window", lambda u: "items" in u)
        self.move(1690, 1090)
        self.move(800, 500)
        found = subprocess.run(["xdotool", "search", "--pid", str(self.proc.pid)], env=self.display.env,
                               capture_output=True, text=True).stdout.split()
        for wid in found:
            self.xdo("windowfocus", wid)
        time.sleep(0.1)
        return self

    def ui(self):
        try:
            with open(self.map_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def state(self, key):
        return self.ui().get("state", {}).get(key)

    def wait(self, what, predicate, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"actmap exited ({self.proc.returncode}) while waiting for {what}")
            ui = self.ui()
            if ui and predicate(ui):
                return ui
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; last state: {self.ui().get('state')}")

    def settle(self, timeout=60):
        # Settled twice in a row with the same revision: the window shows the latest render.
        self.wait("the render to settle", lambda u: u.get("state", {}).get("settled") is True, timeout)
        time.sleep(0.15)
        return self.wait("the render to settle", lambda u: u.get("state", {}).get("settled") is True, timeout)

    def rect(self, name):
        # Windows that size themselves (popups) settle over a frame or two: wait until it stays put.
        last = None
        deadline = time.time() + 60
        while time.time() < deadline:
            r = self.wait(f"widget {name}", lambda u: name in u.get("items", {}))["items"][name]
            if r == last:
                return r
            last = r
            time.sleep(0.1)
        raise AssertionError(f"widget {name} does not stay in one place")

    def centre(self, name):
        x0, y0, x1, y1 = self.rect(name)
        return (x0 + x1) / 2, (y0 + y1) / 2

    def xdo(self, *args):
        subprocess.run(["xdotool"] + [str(a) for a in args], env=self.display.env, check=True)

    def move(self, x, y):
        self.xdo("mousemove", int(round(x)), int(round(y)))
        time.sleep(0.05)

    def point_at(self, x, y):
        """Moves the pointer and waits until the editor has seen it there."""
        x, y = int(round(x)), int(round(y))
        for _ in range(3):
            self.move(x, y)
            try:
                self.wait(f"the pointer at {x},{y}", lambda u: u.get("state", {}).get("mouse") == [x, y], timeout=5)
                return
            except AssertionError:
                self.move(x + 1, y)  # a real motion event, in case focus came late
        raise AssertionError(f"the editor never saw the pointer at {x},{y}")

    def click(self, name):
        self.point_at(*self.centre(name))
        self.xdo("mousedown", 1)
        time.sleep(0.06)
        self.xdo("mouseup", 1)
        time.sleep(0.15)

    def drag(self, points, step_delay=0.04):
        self.point_at(*points[0])
        self.xdo("mousedown", 1)
        time.sleep(0.08)
        for p in points[1:]:
            self.move(*p)
            time.sleep(step_delay)
        self.xdo("mouseup", 1)
        time.sleep(0.15)

    def key(self, keys, over=None):
        # Without a window manager, X gives keyboard focus to the window under the pointer.
        if over:
            self.point_at(*self.centre(over))
        self.xdo("key", "--delay", 60, keys)
        time.sleep(0.15)

    def type(self, text):
        self.xdo("type", "--delay", 30, text)
        time.sleep(0.1)

    def drop(self, paths, over=None):
        """Drops files onto the window as a file manager does: the XDND protocol (version 5) with
        text/uri-list, from a source window of our own (xdotool cannot drag between programs)."""
        drop_files(self.display, self.proc.pid, paths, self.centre(over) if over else (800, 500))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def drop_files(display, pid, paths, at):
    """The XDND source side: enter, position, wait for the target's status, drop, answer its
    selection request with the files' URIs, wait for finished."""
    try:
        from Xlib import X, display as xdisplay, protocol  # Debian: python3-xlib
    except ImportError:
        raise Skip("python3-xlib is not installed (Debian: apt-get install python3-xlib)")
    from urllib.parse import quote
    d = xdisplay.Display(display.env["DISPLAY"])
    try:
        atom = d.intern_atom
        aware, enter, position, status, drop, finished = (atom(n) for n in (
            "XdndAware", "XdndEnter", "XdndPosition", "XdndStatus", "XdndDrop", "XdndFinished"))
        selection, copy, uri_list = atom("XdndSelection"), atom("XdndActionCopy"), atom("text/uri-list")
        ids = subprocess.run(["xdotool", "search", "--pid", str(pid)], env=display.env, capture_output=True,
                             text=True).stdout.split()
        target = None
        for wid in ids:
            w = d.create_resource_object("window", int(wid))
            if w.get_full_property(aware, X.AnyPropertyType):
                target = w
        if target is None:
            raise AssertionError(f"no window of process {pid} takes drops (XdndAware)")
        root = d.screen().root
        source = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, event_mask=X.PropertyChangeMask)
        source.set_selection_owner(selection, X.CurrentTime)
        payload = "".join("file://" + quote(os.path.abspath(p)) + "\r\n" for p in paths).encode()
        origin = target.translate_coords(root, 0, 0)  # the window's origin on the root window
        x, y = int(at[0]) - origin.x, int(at[1]) - origin.y
        x, y = min(max(x, 0), 65535), min(max(y, 0), 65535)

        def send(kind, data):
            ev = protocol.event.ClientMessage(window=target, client_type=kind, data=(32, data + [0] * (5 - len(data))))
            target.send_event(ev)
            d.flush()

        def wait_for(predicate, what, timeout=10.0):
            deadline = time.time() + timeout
            while time.time() < deadline:
                while d.pending_events():
                    ev = d.next_event()
                    if predicate(ev):
                        return ev
                time.sleep(0.01)
            raise AssertionError(f"the window did not answer the drop ({what})")

        send(enter, [source.id, 5 << 24, uri_list])
        send(position, [source.id, 0, (x << 16) | y, X.CurrentTime, copy])
        st = wait_for(lambda e: e.type == X.ClientMessage and e.client_type == status, "XdndStatus")
        if not st.data[1][1] & 1:
            raise AssertionError("the window refused the drop (XdndStatus without accept)")
        send(drop, [source.id, 0, X.CurrentTime])
        req = wait_for(lambda e: e.type == X.SelectionRequest, "its request for the file list")
        req.requestor.change_property(req.property, req.target, 8, payload)
        req.requestor.send_event(protocol.event.SelectionNotify(time=req.time, requestor=req.requestor,
                                                               selection=req.selection, target=req.target,
                                                               property=req.property))
        d.flush()
        wait_for(lambda e: e.type == X.ClientMessage and e.client_type == finished, "XdndFinished")
        source.destroy()
        d.flush()
    finally:
        d.close()


def screenshot(display, path, width=1600, height=1000):
    """The screen's top-left width x height (the editor's window) as a PNG, through xwd."""
    raw = subprocess.run(["xwd", "-root", "-silent"], env=display.env, check=True, capture_output=True).stdout
    fields = struct.unpack(">25I", raw[:100])
    header_size, bpp, line, ncolors = fields[0], fields[11], fields[12], fields[19]
    byte_order, masks = fields[7], fields[14:17]
    if bpp not in (24, 32) or byte_order != 0 or masks != (0xFF0000, 0xFF00, 0xFF):
        raise ValueError(f"xwd: unexpected pixel format (bits {bpp}, byte order {byte_order}, masks {masks})")
    pixels = raw[header_size + 12 * ncolors:]
    rows = []
    for y in range(height):
        step = bpp // 8
        row = pixels[y * line:y * line + step * width]
        rgb = bytearray(3 * width)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[2::step], row[1::step], row[0::step]  # B, G, R(, X): low byte first
        rows.append(b"\0" + bytes(rgb))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def read_png(path):
    """Pixels of an 8-bit, non-interlaced PNG as (width, height, channels, bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace:
        raise ValueError(f"{path}: only 8-bit non-interlaced PNGs are read here")
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, channels, bytes(out)


def mean_abs_diff(a, b):
    if a[:3] != b[:3]:
        raise AssertionError(f"image sizes differ: {a[:3]} vs {b[:3]}")
    return sum(abs(x - y) for x, y in zip(a[3], b[3])) / len(a[3])


def workdir():
    """A fresh folder for one test's files, removed when the test ends (pass or fail)."""
    path = tempfile.mkdtemp(prefix="actmap-gui-")
    atexit.register(shutil.rmtree, path, True)
    return path


def run(main):
    """Runs a test's main: exit 77 (skipped, with the reason) where something it needs is missing."""
    try:
        sys.exit(main())
    except Skip as e:
        print(f"skipped: {e}")
        sys.exit(SKIP)
