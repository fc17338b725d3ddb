#!/usr/bin/python3
"""Checks the arrows between the core's areas (docs/architecture.md).

An area may include the headers of, and link, only the areas below it:

    io  <-  model  <-  edit  <-  session  <-  render  <-  analysis
                 ^-- train, fetch (each uses model and io)

Reads every file under include/actmap/<area>/ and src/core/<area>/, and each area's
CMakeLists.txt, and prints every include or link that points up or sideways, with its file and
line. Also: src/core holds the area folders and nothing else, no core file includes GUI headers,
public headers include only public headers, and no editor panel (src/app/panels/) includes
another panel's header: panels share state only through src/app/editor_context.h. Exit status 1
when anything is wrong.

    /usr/bin/python3 tools/check_layers.py [SOURCE_DIR]
"""
import os
import re
import sys

# What each area may use (directly or not). Keep in step with docs/architecture.md.
ALLOWED = {
    "io": set(),
    "model": {"io"},
    "edit": {"model", "io"},
    "session": {"edit", "model", "io"},
    "render": {"session", "edit", "model", "io"},
    "analysis": {"render", "session", "edit", "model", "io"},
    "train": {"model", "io"},
    "fetch": {"model", "io"},
}
GUI_HEADERS = re.compile(r"^(imgui|GLFW/|epoxy/|GL/|backends/)")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
LINK = re.compile(r"\bactmap_([a-z]+)\b")


def included_area(header, quote, own_area, own_dir):
    """The area a header belongs to, None for a header outside actmap (system, LibTorch, ...)."""
    parts = header.split("/")
    if parts[0] == "actmap" and len(parts) >= 3:
        return parts[1], "public"
    if len(parts) >= 2 and parts[0] in ALLOWED:
        return parts[0], "internal"
    if quote == '"' and len(parts) == 1 and os.path.exists(os.path.join(own_dir, header)):
        return own_area, "internal"
    if parts[0] == "actmap":
        return "?", "public"
    return None, None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    problems = []
    core = os.path.join(root, "src", "core")
    for entry in sorted(os.listdir(core)):
        if entry not in ALLOWED:
            problems.append(f"src/core/{entry}: only the area folders belong in src/core ({', '.join(ALLOWED)})")
    for entry in sorted(os.listdir(os.path.join(root, "include", "actmap"))):
        if entry not in ALLOWED:
            problems.append(f"include/actmap/{entry}: only the area folders belong in include/actmap")

    checked = 0
    for area in ALLOWED:
        for base, is_public in ((os.path.join(root, "include", "actmap", area), True), (os.path.join(core, area), False)):
            if not os.path.isdir(base):
                continue
            for dirpath, _, files in os.walk(base):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, root)
                    if name == "CMakeLists.txt":
                        text = open(path, encoding="utf-8").read()
                        for m in re.finditer(r"target_link_libraries\(([^)]*)\)", text):
                            line = text.count("\n", 0, m.start()) + 1
                            for used in LINK.findall(m.group(1)):
                                if used != area and used in ALLOWED and used not in ALLOWED[area]:
                                    problems.append(f"{rel}:{line}: area '{area}' links actmap_{used}, an area it may not use")
                        continue
                    if not name.endswith((".h", ".cpp")):
                        continue
                    checked += 1
                    for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        quote, header = m.group(1), m.group(2)
                        if GUI_HEADERS.match(header):
                            problems.append(f"{rel}:{lineno}: the core includes GUI header <{header}>")
                            continue
                        used, kind = included_area(header, quote, area, dirpath)
                        if used is None:
                            continue
                        if used == "?" or used not in ALLOWED:
                            problems.append(f"{rel}:{lineno}: '{header}' is in no area")
                        elif used != area and used not in ALLOWED[area]:
                            allowed = ", ".join(sorted(ALLOWED[area])) or "none"
                            problems.append(f"{rel}:{lineno}: area '{area}' includes '{header}' of area '{used}' "
                                            f"(it may use: {allowed})")
                        elif is_public and kind == "internal":
                            problems.append(f"{rel}:{lineno}: public header includes internal '{header}'")
    panels = os.path.join(root, "src", "app", "panels")
    if os.path.isdir(panels):
        for name in sorted(os.listdir(panels)):
            if not name.endswith((".h", ".cpp")):
                continue
            own = os.path.splitext(name)[0]
            for lineno, line in enumerate(open(os.path.join(panels, name), encoding="utf-8"), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                header = m.group(2)
                base = os.path.splitext(os.path.basename(header))[0]
                is_panel = os.path.exists(os.path.join(panels, os.path.basename(header))) or header.startswith("panels/")
                if is_panel and base != own and base != "job_progress":
                    problems.append(f"src/app/panels/{name}:{lineno}: includes another panel's header '{header}' "
                                    f"(panels share state through editor_context.h)")
    if checked == 0:
        problems.append(f"{root}: found no core sources to check")
    for p in problems:
        print(f"check_layers: {p}", file=sys.stderr)
    if problems:
        print(f"check_layers: {len(problems)} problem(s); the arrows are in tools/check_layers.py "
              f"and docs/architecture.md", file=sys.stderr)
        return 1
    print(f"check_layers: {checked} files in {len(ALLOWED)} areas, every include and link points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
