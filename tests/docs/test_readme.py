#!/usr/bin/python3
"""Keeps README.md short, its links and docs/'s links alive, and every command it shows real.

usage: test_readme.py ACTMAP_CLI ACTMAP_OR_EMPTY SOURCE_DIR

- README.md must have fewer than 200 lines (the rest belongs in docs/).
- Every relative link in README.md and docs/*.md ([text](path), ![alt](path), [id]: path,
  src="..." and href="...") must point at a file or folder in the repository; http(s), mailto
  and #anchor links are not checked, and the #anchor part of a path is ignored.
- Every command in README's shell code blocks (``` with no language, sh, bash, shell or console)
  must be one this script knows how to check:
    actmap-cli SUB ...       SUB is one of `actmap-cli --help`'s subcommands, `actmap-cli SUB
                             --help` runs, and every option the line uses is in that help;
    bash cmake/dev.sh VERB   VERB is in the usage at the top of cmake/dev.sh (arguments after
                             `run` go to the editor and are checked like an actmap line);
    .../actmap ...           `actmap --help` runs and lists every option the line uses (skipped,
                             saying so, when the editor is not built: ACTMAP_OR_EMPTY is "");
    [PYTHONPATH=build/P/python] /usr/bin/python3 -c CODE
                             runs CODE for real in the source folder, with the Python package of
                             the build actmap-cli belongs to on PYTHONPATH; it must exit 0;
    python3 -m actmap SUB ... `python3 -m actmap SUB --help` runs and lists every option used;
    cmake --install BUILD --component python [--prefix P]
                             runs for real with the build's folder and --prefix set to a scratch
                             folder, and must install the actmap package there;
    dask scheduler|worker ...  `dask SUB --help` runs and lists every option the line uses.
  Anything else fails with its line, so that README stays checkable: show other code in a block
  tagged with its language (```json, ```text, ...), or move it to docs/.
Programs run with their --help only, in a temporary folder that is removed at the end.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.parse

MAX_LINES = 200
SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
OPERATORS = {"|", "||", "&&", ";", "&"}
REDIRECT = re.compile(r"^\d*(>>?|<)(&\d+)?$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
OPTION = re.compile(r"^--?[A-Za-z]")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def fenced_blocks(text):
    """(language, first line number, [(line number, line)]) for each fenced code block."""
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if current is None:
            if m:
                current = (m.group(1), m.group(2).lower(), number, [])
        elif m and m.group(1)[0] == current[0][0] and len(m.group(1)) >= len(current[0]) and not m.group(2):
            blocks.append((current[1], current[2], current[3]))
            current = None
        else:
            current[3].append((number, line))
    if current is not None:
        blocks.append((current[1], current[2], current[3]))
    return blocks


def prose_lines(text):
    """The text's lines with fenced code blocks blanked and inline code spans removed."""
    lines, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            lines.append("")
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
                fence = None
            lines.append("")
        else:
            lines.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
    return lines


def link_targets(line):
    targets = [m.group(1) for m in re.finditer(r"\]\(\s*([^)]*?)\s*\)", line)]
    m = re.match(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", line)
    if m:
        targets.append(m.group(1))
    targets += re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", line)
    out = []
    for t in targets:
        t = t.strip()
        if t.startswith("<") and ">" in t:
            t = t[1:t.index(">")]
        else:
            t = t.split()[0] if t.split() else ""
        out.append(t)
    return out


def check_links(root, files, problems):
    real_root = os.path.realpath(root)
    for path in files:
        rel = os.path.relpath(path, root)
        for number, line in enumerate(prose_lines(read(path)), 1):
            for target in link_targets(line):
                if not target:
                    problems.append(f"{rel}:{number}: an empty link")
                    continue
                if target.startswith("#") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
                    continue  # an anchor on the same page, or http(s), mailto, ...
                local = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
                if os.path.isabs(local):
                    problems.append(f"{rel}:{number}: link '{target}' is an absolute path; links must be relative")
                    continue
                resolved = os.path.realpath(os.path.join(os.path.dirname(path), local))
                if resolved != real_root and not resolved.startswith(real_root + os.sep):
                    problems.append(f"{rel}:{number}: link '{target}' points outside the repository")
                elif not os.path.exists(resolved):
                    problems.append(f"{rel}:{number}: link '{target}' points at "
                                    f"{os.path.relpath(resolved, real_root)}, which does not exist")


def shell_commands(text):
    """(line number, command line) for each command in the shell code blocks, continuations joined."""
    out = []
    for language, _, lines in fenced_blocks(text):
        if language not in SHELL_LANGUAGES:
            continue
        pending, start = "", None
        for number, line in lines:
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if start is None:
                start = number
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            command = (pending + stripped).strip()
            if command.startswith("$ "):
                command = command[2:]
            out.append((start, command))
            pending, start = "", None
        if pending:
            out.append((start, pending.strip()))
    return out


def simple_commands(tokens):
    """Splits a token list at |, &&, ; ... and drops redirections."""
    commands, current, skip = [], [], False
    for t in tokens:
        if skip:
            skip = False
            continue
        if t in OPERATORS:
            commands.append(current)
            current = []
        elif REDIRECT.match(t):
            skip = not t.endswith(("&1", "&2"))  # `> file` takes the next token; `2>&1` does not
        elif re.match(r"^\d*>", t):
            continue  # `>file`, `2>/dev/null`
        else:
            current.append(t)
    commands.append(current)
    return [c for c in commands if c]


def option_names(help_text):
    """Every option name a CLI11 help text lists (-o, --out, ...)."""
    names = set()
    for line in help_text.splitlines():
        s = line.strip()
        if s.startswith("-"):
            for name in s.split()[0].split(","):
                names.add(name.split("=")[0])
    return names


def used_options(arguments):
    out = []
    for a in arguments:
        a = a.lstrip("[(").rstrip("])")
        if OPTION.match(a):
            out.append(a.split("=", 1)[0])
    return out


class Runner:
    def __init__(self, cli, app, root, scratch):
        self.cli, self.app, self.root = cli, app, root
        self.env = dict(os.environ)
        for key, sub in (("TMPDIR", "tmp"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                         ("XDG_CACHE_HOME", "cache"), ("HOME", "home")):
            os.makedirs(os.path.join(scratch, sub), exist_ok=True)
            self.env[key] = os.path.join(scratch, sub)
        self.scratch = scratch
        self.helps = {}

    def help(self, program, *args):
        key = (program,) + args
        if key not in self.helps:
            try:
                p = subprocess.run([program, *args, "--help"], cwd=self.scratch, env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, text=True)
                self.helps[key] = (p.returncode, p.stdout)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.helps[key] = (None, str(e))
        return self.helps[key]

    def cli_subcommands(self):
        rc, text = self.help(self.cli)
        if rc != 0:
            return None, text
        # CLI11 lists each subcommand as "  name   description"; wrapped descriptions and
        # examples are indented further.
        subs, inside = set(), False
        for line in text.splitlines():
            if line.startswith("Subcommands:"):
                inside = True
            elif inside and re.match(r"^  \S", line):
                subs.add(line.split()[0])
            elif inside and line.strip() and not line.startswith(" "):
                inside = False
        return subs, text


def check_cli(runner, where, tokens, problems):
    subs, text = runner.cli_subcommands()
    if subs is None:
        problems.append(f"{where}: `{runner.cli} --help` failed: {text.strip()[-400:]}")
        return
    args = tokens[1:]
    if not args or args[0].startswith("-"):
        for name in used_options(args):
            if name not in option_names(text):
                problems.append(f"{where}: actmap-cli has no option {name}")
        return
    sub = args[0]
    if sub not in subs:
        problems.append(f"{where}: actmap-cli has no subcommand '{sub}' (it has: {', '.join(sorted(subs))})")
        return
    rc, sub_help = runner.help(runner.cli, sub)
    usage = next((l for l in sub_help.splitlines() if l.startswith("Usage:")), "").split()
    if rc != 0 or len(usage) < 3 or usage[2] != sub:
        problems.append(f"{where}: `actmap-cli {sub} --help` did not print {sub}'s help "
                        f"(exit status {rc}): {sub_help.strip()[-400:]}")
        return
    known = option_names(sub_help)
    for name in used_options(args[1:]):
        if name not in known:
            problems.append(f"{where}: `actmap-cli {sub}` has no option {name} (see `actmap-cli {sub} --help`)")


def check_editor(runner, where, arguments, problems, notes):
    if not runner.app:
        notes.add("the editor is not built: its command lines were not run (their form was still checked)")
        return
    rc, text = runner.help(runner.app)
    if rc != 0 or "Usage:" not in text:
        problems.append(f"{where}: `{runner.app} --help` failed (exit status {rc}): {text.strip()[-400:]}")
        return
    known = option_names(text)
    for name in used_options(arguments):
        if name not in known:
            problems.append(f"{where}: actmap (the editor) has no option {name} (see `actmap --help`)")


def python_path(runner):
    """The build tree's python/ folder: actmap-cli is BUILD/src/cli/actmap-cli."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(runner.cli))), "python")


def check_python(runner, where, command, problems):
    args = command[1:]
    env = dict(runner.env, PYTHONPATH=python_path(runner))
    if len(args) >= 2 and args[0] == "-c":
        p = subprocess.run(["/usr/bin/python3", "-c", args[1]], cwd=runner.root, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, text=True)
        if p.returncode != 0:
            problems.append(f"{where}: `python3 -c ...` failed (exit status {p.returncode}): {p.stdout.strip()[-400:]}")
        return
    if len(args) >= 3 and args[0] == "-m" and args[1] == "actmap":
        sub = args[2]
        p = subprocess.run(["/usr/bin/python3", "-m", "actmap", sub, "--help"], cwd=runner.scratch, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, text=True)
        if p.returncode != 0:
            problems.append(f"{where}: `python3 -m actmap {sub} --help` failed: {p.stdout.strip()[-400:]}")
            return
        known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", p.stdout))
        for name in used_options(args[3:]):
            if name not in known:
                problems.append(f"{where}: `python3 -m actmap {sub}` has no option {name}")
        return
    problems.append(f"{where}: cannot check `{' '.join(command)}`: show python3 as `/usr/bin/python3 -c CODE` or "
                    f"`python3 -m actmap SUB ...`")


def check_cmake_install(runner, where, command, problems):
    args = command[1:]
    if len(args) < 2 or args[0] != "--install" or "--component" not in args or \
            args[args.index("--component") + 1:args.index("--component") + 2] != ["python"]:
        problems.append(f"{where}: cannot check `{' '.join(command)}`: README shows cmake only as "
                        f"`cmake --install BUILD --component python`")
        return
    build = os.path.dirname(python_path(runner))
    prefix = os.path.join(runner.scratch, "install")
    p = subprocess.run(["cmake", "--install", build, "--component", "python", "--prefix", prefix], env=runner.env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, text=True)
    found = [d for d, _, files in os.walk(prefix) if os.path.basename(d) == "actmap" and "__init__.py" in files]
    if p.returncode != 0 or not found:
        problems.append(f"{where}: `cmake --install {build} --component python` installed no actmap package "
                        f"(exit status {p.returncode}): {p.stdout.strip()[-400:]}")


def check_dask(runner, where, command, problems):
    if len(command) < 2 or command[1] not in ("scheduler", "worker"):
        problems.append(f"{where}: cannot check `{' '.join(command)}`: README shows `dask scheduler` and `dask worker` only")
        return
    rc, text = runner.help("dask", command[1])
    if rc != 0:
        problems.append(f"{where}: `dask {command[1]} --help` failed: {text.strip()[-400:]}")
        return
    known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))
    for name in used_options(command[2:]):
        if name not in known:
            problems.append(f"{where}: `dask {command[1]}` has no option {name}")


def dev_sh_verbs(root):
    verbs = set()
    for line in read(os.path.join(root, "cmake", "dev.sh")).splitlines()[1:]:
        if not line.startswith("#"):
            break
        verbs.update(re.findall(r"bash cmake/dev\.sh (\w+)", line))
    return verbs


def check_commands(runner, root, readme_text, problems, notes):
    verbs = dev_sh_verbs(root)
    if not verbs:
        problems.append("cmake/dev.sh: no `bash cmake/dev.sh VERB` lines in its usage comment")
    commands = shell_commands(readme_text)
    shown = set()
    for number, line in commands:
        where = f"README.md:{number}"
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as e:
            problems.append(f"{where}: cannot parse `{line}`: {e}")
            continue
        for command in simple_commands(tokens):
            while command and ENV_ASSIGNMENT.match(command[0]):
                command = command[1:]
            if not command:
                continue
            program = os.path.basename(command[0])
            if program == "actmap-cli":
                check_cli(runner, where, command, problems)
            elif program == "actmap":
                check_editor(runner, where, command[1:], problems, notes)
            elif program in ("python3", "python"):
                check_python(runner, where, command, problems)
            elif program == "cmake":
                check_cmake_install(runner, where, command, problems)
            elif program == "dask":
                check_dask(runner, where, command, problems)
            elif (program in ("bash", "sh") and len(command) > 1 and os.path.normpath(command[1]) == "cmake/dev.sh") \
                    or os.path.normpath(command[0]) == "cmake/dev.sh":
                rest = command[2:] if program in ("bash", "sh") else command[1:]
                verb = rest[0] if rest else ""
                if verb not in verbs:
                    problems.append(f"{where}: cmake/dev.sh has no verb '{verb}' (its usage lists: {', '.join(sorted(verbs))})")
                    continue
                shown.add(verb)
                if verb == "run":
                    check_editor(runner, where, rest[1:], problems, notes)
            else:
                problems.append(f"{where}: cannot check `{' '.join(command)}`: commands in README's shell blocks must be "
                                f"actmap-cli, bash cmake/dev.sh, actmap, python3, cmake --install or dask (tag other code "
                                f"with its language, or move it to docs/)")
    for verb in ("run", "test"):
        if verb not in shown:
            problems.append(f"README.md: does not show `bash cmake/dev.sh {verb}` in a shell block")
    return len(commands)


def main():
    if len(sys.argv) == 3:  # an empty ACTMAP_OR_EMPTY that did not survive as an argument
        sys.argv.insert(2, "")
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    cli, app, root = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    problems, notes = [], set()

    readme = os.path.join(root, "README.md")
    text = read(readme)
    lines = len(text.splitlines())
    if lines >= MAX_LINES:
        problems.append(f"README.md: {lines} lines; keep it under {MAX_LINES} and move details into docs/")

    docs = os.path.join(root, "docs")
    pages = [readme] + sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    check_links(root, pages, problems)

    if not os.access(cli, os.X_OK):
        problems.append(f"{cli}: actmap-cli is not there (or not executable); build it first")
        count = 0
    else:
        if app and not os.access(app, os.X_OK):
            problems.append(f"{app}: the editor is not there (or not executable)")
            app = ""
        with tempfile.TemporaryDirectory(prefix="actmap-readme-") as scratch:
            runner = Runner(os.path.abspath(cli), os.path.abspath(app) if app else "", root, scratch)
            count = check_commands(runner, root, text, problems, notes)

    for n in sorted(notes):
        print(f"note: {n}")
    print(f"README.md: {lines} lines; {len(pages)} pages' links checked; {count} command lines checked")
    if problems:
        print(f"{len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
