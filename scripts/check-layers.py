#!/usr/bin/env python3
"""Checks that no top-level module of the library imports from a layer above its own, and that
no two top-level modules import each other (directly or round a longer loop).

    python3 scripts/check-layers.py [SRC_DIR]     # default: src/ next to this script
    python3 scripts/check-layers.py --self-test   # runs the checker on small made-up trees

The layers are read from the module doc of SRC_DIR/lib.rs, lines of the form
    //! - L3 what it is: [`obs`], [`db`], [`webhooks`]
so the documented order and the checked order are one text. Every `pub mod` of lib.rs must be
named in exactly one layer. An import is any `crate::` path in code (a `use`, a `use crate::{..}`
group, or a path in an expression or a type) and any `super::` path that climbs out of its
top-level module; comments, strings, `#[cfg(test)]` items and modules, `tests.rs` files declared
under `#[cfg(test)]`, the binaries (main.rs, bin/) and tests/ are not looked at.

Exit 0 when clean, 1 with one line per violation (file:line, importer, imported, both layers).
No dependencies beyond the standard library.
"""

import os
import re
import sys
import tempfile

# Imports that the issue-11 reshaping is removing and that CI tolerates meanwhile:
# (importing module, imported module). They are still printed as "known" on every run.
# Known violations being removed by issue 11 (seam): capability slices move into status/,
# obs stops importing capabilities (translators registered by app). Empty this set in one edit
# once helper S's branch has landed; an entry that no longer occurs is reported as stale.
KNOWN_VIOLATIONS = set([
    ("obs", "outputs"),
    ("obs", "pictures"),
    ("obs", "sources"),
    ("obs", "studio"),
    # The audio command runs where the studio one does, until obs defines a capability command.
    ("obs", "audio"),
    ("http", "outputs"),
])

LAYER_LINE = re.compile(r"^//!\s*-\s*L(\d+)\b[^:]*:(.*)$")
DOC_NAME = re.compile(r"\[`([a-z_][a-z0-9_]*)`\]")
# An upward import the layer text itself allows, written `importer` -> `imported` in a bullet.
DOC_ALLOWED = re.compile(r"`([a-z_][a-z0-9_]*)`\s*->\s*`([a-z_][a-z0-9_]*)`")
PUB_MOD = re.compile(r"^\s*pub\s+mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)


class CheckError(Exception):
    """The tree cannot be checked at all (no layer table, a module without a layer...)."""


def read_layers(lib_rs):
    """Returns ({module: layer number}, [top-level modules], {allowed upward imports}).

    A layer is a doc bullet `//! - L<n> ...: [`a`], [`b`]` with its indented continuation lines;
    the modules are the names in [`backticks`] (so a bullet can say in prose what each one is);
    `a` -> `b` in a bullet allows that one upward import.
    """
    with open(lib_rs, encoding="utf-8") as f:
        text = f.read()
    layer_of = {}
    allowed = set()
    problems = []
    bullets = []  # a bullet and its indented continuation lines, as one line
    for line in text.splitlines():
        line = line.strip()
        if LAYER_LINE.match(line):
            bullets.append(line)
        elif bullets and re.match(r"^//!\s{2,}\S", line) and not re.match(r"^//!\s*-", line):
            bullets[-1] += " " + line[3:].strip()
        elif bullets and bullets[-1] is not None:
            bullets.append(None)  # the list ended: later lines do not continue it
    for line in filter(None, bullets):
        m = LAYER_LINE.match(line)
        layer = int(m.group(1))
        allowed.update(DOC_ALLOWED.findall(m.group(2)))
        for name in DOC_NAME.findall(m.group(2)):
            if name in layer_of and layer_of[name] != layer:
                problems.append(f"{name} is named in L{layer_of[name]} and L{layer}")
            layer_of[name] = layer
    modules = PUB_MOD.findall(strip_code(text))
    if not layer_of:
        raise CheckError(f"{lib_rs}: no layer lines (`//! - L0 ...: [`name`], ...`) in the module doc")
    for name in modules:
        if name not in layer_of:
            problems.append(f"module `{name}` has no layer in {lib_rs}'s module doc")
    for name in layer_of:
        if name not in modules:
            problems.append(f"layer table names `{name}`, which is not a `pub mod` of {lib_rs}")
    for pair in allowed:
        for name in pair:
            if name not in layer_of:
                problems.append(f"`{pair[0]}` -> `{pair[1]}` names `{name}`, which has no layer")
    if problems:
        raise CheckError("\n".join(problems))
    return layer_of, modules, allowed


def strip_code(text):
    """Blanks comments, string and char literals (keeping newlines, so line numbers hold)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 258]) and not ident_char(text, i - 1):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i:j + 1]))
            i = j + 1
        elif c == "'":
            # a char literal ('a', '\n', '\u{1F600}'), else a lifetime or label
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def ident_char(text, i):
    return i >= 0 and (text[i].isalnum() or text[i] == "_")


def blank(s):
    return "".join(ch if ch == "\n" else " " for ch in s)


CFG_TEST = re.compile(r"#\[cfg\(\s*test\s*\)\]")


def strip_test_items(code, test_files, module_dir):
    """Blanks every item under `#[cfg(test)]`; a `#[cfg(test)] mod x;` adds x's file to test_files."""
    out = list(code)
    for m in CFG_TEST.finditer(code):
        j = m.end()
        mod_decl = re.match(r"(\s*#\[[^\]]*\])*\s*(pub(\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", code[j:])
        if mod_decl:
            name = mod_decl.group(4)
            test_files.add(os.path.normpath(os.path.join(module_dir, name + ".rs")))
            test_files.add(os.path.normpath(os.path.join(module_dir, name, "mod.rs")))
        depth = 0
        k = j
        while k < len(code):
            ch = code[k]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    k += 1
                    break
            elif ch == ";" and depth == 0:
                k += 1
                break
            k += 1
        for p in range(m.start(), k):
            if out[p] != "\n":
                out[p] = " "
    return "".join(out)


# `crate::a`, `crate::{a::B, c}` (also spread over lines), `super::super::a`.
CRATE_PATH = re.compile(r"(?<![A-Za-z0-9_$])crate\s*::\s*([a-z_][a-z0-9_]*|\{)")
SUPER_PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:super\s*::\s*)+)([a-z_][a-z0-9_]*|\{)")


def group_heads(code, brace):
    """The first path segment of each entry of the `{...}` group opening at code[brace]."""
    depth, k, start = 0, brace, brace + 1
    entries = []
    while k < len(code):
        ch = code[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                entries.append(code[start:k])
                break
        elif ch == "," and depth == 1:
            entries.append(code[start:k])
            start = k + 1
        k += 1
    heads = []
    for entry in entries:
        m = re.match(r"\s*([a-z_][a-z0-9_]*)", entry)
        if m and m.group(1) != "self":
            heads.append(m.group(1))
    return heads


def module_path(src, path):
    """['obs', 'session'] for src/obs/session.rs, ['obs'] for src/obs/mod.rs or src/obs.rs."""
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def imports_of(src, path, code):
    """Yields (line, imported top-level module) for every crate-level path in code."""
    def line_at(pos):
        return code.count("\n", 0, pos) + 1

    for m in CRATE_PATH.finditer(code):
        if m.group(1) == "{":
            for head in group_heads(code, m.end() - 1):
                yield line_at(m.start()), head
        else:
            yield line_at(m.start()), m.group(1)
    own = module_path(src, path)
    for m in SUPER_PATH.finditer(code):
        ups = m.group(1).count("super")
        if ups < len(own):
            continue  # stays inside its own top-level module
        rest = own[: len(own) - ups]
        if rest:
            continue
        if m.group(2) == "{":
            for head in group_heads(code, m.end() - 1):
                yield line_at(m.start()), head
        else:
            yield line_at(m.start()), m.group(2)


def library_files(src):
    skip = {os.path.join(src, "main.rs"), os.path.join(src, "lib.rs")}
    for root, dirs, files in os.walk(src):
        dirs.sort()
        if os.path.normpath(root) == os.path.normpath(os.path.join(src, "bin")):
            dirs[:] = []
            continue
        for name in sorted(files):
            full = os.path.join(root, name)
            if name.endswith(".rs") and full not in skip:
                yield full


def check(src, out=sys.stdout, known_violations=None):
    """Prints the violations under src; returns the exit status."""
    known_violations = KNOWN_VIOLATIONS if known_violations is None else known_violations
    src = os.path.normpath(src)
    try:
        layer_of, modules, allowed = read_layers(os.path.join(src, "lib.rs"))
    except (CheckError, OSError) as e:
        print(f"check-layers: {e}", file=out)
        return 1
    files = list(library_files(src))
    test_files = set()
    codes = {}
    # first pass: find files that only exist for tests
    for path in files:
        with open(path, encoding="utf-8") as f:
            code = strip_code(f.read())
        # where `mod x;` declared in this file looks for x.rs (Rust's rule)
        module_dir = os.path.dirname(path) if path.endswith(os.sep + "mod.rs") else path[:-3]
        codes[path] = strip_test_items(code, test_files, module_dir)

    edges = {}  # (importer, imported) -> first (file, line)
    for path in files:
        if os.path.normpath(path) in test_files:
            continue
        importer = module_path(src, path)[0]
        if importer not in layer_of:
            continue  # a file no `pub mod` reaches (lib.rs names the modules)
        for line, imported in imports_of(src, path, codes[path]):
            if imported == importer or imported not in layer_of:
                continue  # own module, or a crate-root item / macro such as crate::Something
            edges.setdefault((importer, imported), (os.path.relpath(path), line))

    failures, known, seen_known = [], [], set()
    for (importer, imported), (file, line) in sorted(edges.items(), key=lambda e: e[1]):
        if layer_of[importer] < layer_of[imported] and (importer, imported) not in allowed:
            text = (f"{file}:{line}: {importer} (L{layer_of[importer]}) imports {imported} "
                    f"(L{layer_of[imported]}), a layer above it")
            if (importer, imported) in known_violations:
                known.append(text)
                seen_known.add((importer, imported))
            else:
                failures.append(text)

    graph = {}
    for (importer, imported) in edges:
        if (importer, imported) in known_violations:
            seen_known.add((importer, imported))
            continue
        graph.setdefault(importer, set()).add(imported)
    for cycle, members in cycles(graph):
        path = " -> ".join(cycle + [cycle[0]])
        if len(members) > len(cycle):
            path += f" (one loop among {', '.join(sorted(members))})"
        where = "; ".join(
            f"{a} -> {b} at {edges[(a, b)][0]}:{edges[(a, b)][1]}"
            for a, b in zip(cycle, cycle[1:] + cycle[:1]))
        layers = ", ".join(f"{m} L{layer_of[m]}" for m in cycle)
        failures.append(f"import cycle {path} ({layers}): {where}")

    for text in known:
        print(f"known (issue 11, being removed): {text}", file=out)
    for pair in sorted(known_violations - seen_known):
        print(f"stale: KNOWN_VIOLATIONS lists {pair[0]} -> {pair[1]}, which no longer occurs: "
              "remove it from scripts/check-layers.py", file=out)
    for text in failures:
        print(text, file=out)
    if failures:
        print(f"check-layers: {len(failures)} violation(s) of the layers in {src}/lib.rs", file=out)
        return 1
    print(f"check-layers: {len(edges)} imports between {len(modules)} top-level modules follow "
          f"the layers ({len(known)} known violation(s) tolerated)", file=out)
    return 0


def cycles(graph):
    """(a shortest loop, all members) per strongly connected component of two or more modules."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(set(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found = []
    for comp in comps:
        start = min(comp)
        # shortest way back to start inside the component (breadth first)
        prev, frontier, cycle = {start: None}, [start], None
        while frontier and cycle is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, ())):
                    if w == start:
                        cycle = [v]
                        break
                    if w in comp and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if cycle is not None:
                    break
            frontier = nxt
        while prev[cycle[0]] is not None:
            cycle.insert(0, prev[cycle[0]])
        found.append((cycle, comp))
    return found


SELF_TESTS = [
    # (name, files, tolerated violations, expected exit status, text the output must contain)
    ("clean tree", {
        "low.rs": "//! low\npub fn f() {}\n",
        "high/mod.rs": "use crate::{low::f, mid};\npub mod part;\npub fn g() { f(); mid::h() }\n",
        "high/part.rs": "use super::super::low;\npub fn p() { low::f() }\n",
        "mid.rs": "pub fn h() { crate::low::f() }\n",
    }, set(), 0, "follow the layers"),
    ("upward use", {
        "low.rs": "use crate::high::g;\npub fn f() { g() }\n",
        "high/mod.rs": "pub fn g() {}\n", "mid.rs": "",
    }, set(), 1, "low.rs:1: low (L0) imports high (L2), a layer above it"),
    ("upward path in a use group, spread over lines", {
        "low.rs": "use crate::{\n    mid::h,\n};\n",
        "high/mod.rs": "", "mid.rs": "pub fn h() {}\n",
    }, set(), 1, "low.rs:1: low (L0) imports mid (L1)"),
    ("upward path in an expression", {
        "low.rs": "pub fn f() {\n    crate::mid::h()\n}\n",
        "high/mod.rs": "", "mid.rs": "pub fn h() {}\n",
    }, set(), 1, "low.rs:2: low (L0) imports mid (L1)"),
    ("super:: out of the top-level module", {
        "mid.rs": "pub mod inner;\n", "mid/inner.rs": "pub fn x() { super::super::high::g() }\n",
        "high/mod.rs": "pub fn g() {}\n", "low.rs": "",
    }, set(), 1, "mid (L1) imports high (L2)"),
    ("comments, strings and test code are not imports", {
        "low.rs": ("// crate::high::g\n/* crate::high */\npub const S: &str = \"crate::high::g\";\n"
                   "pub const R: &str = r#\"crate::high\"#;\n"
                   "#[cfg(test)]\nmod tests {\n    use crate::high::g;\n}\n"
                   "#[cfg(test)]\nmod more;\n"),
        "low/more.rs": "use crate::high::g;\n",
        "high/mod.rs": "pub fn g() {}\n", "mid.rs": "",
    }, set(), 0, "follow the layers"),
    ("a cycle inside one layer", {
        "low.rs": "", "mid.rs": "use crate::other::o;\npub fn h() {}\n",
        "other.rs": "use crate::mid::h;\npub fn o() {}\n", "high/mod.rs": "",
    }, set(), 1, "import cycle mid -> other -> mid"),
    ("a module without a layer", {
        "low.rs": "", "mid.rs": "", "high/mod.rs": "", "stray.rs": "",
    }, set(), 1, "module `stray` has no layer"),
    ("an upward import the layer text allows", {
        "lib.rs": ("//! - L0: [`low`] (only `low` -> `high` may go up)\n//! - L2: [`high`]\n"
                   "pub mod high;\npub mod low;\n"),
        "low.rs": "use crate::high::g;\n", "high/mod.rs": "pub fn g() {}\n",
    }, set(), 0, "follow the layers"),
    ("a known violation is tolerated and still printed", {
        "low.rs": "use crate::high::g;\n", "high/mod.rs": "pub fn g() {}\n", "mid.rs": "",
    }, {("low", "high")}, 0, "known (issue 11, being removed): src/low.rs:1: low (L0) imports high"),
    ("a known violation that no longer occurs is reported as stale", {
        "low.rs": "", "high/mod.rs": "", "mid.rs": "",
    }, {("low", "high")}, 0, "stale: KNOWN_VIOLATIONS lists low -> high"),
]

SELF_TEST_LAYERS = {"low": 0, "mid": 1, "other": 1, "high": 2}


def self_test_lib(files):
    """lib.rs for a made-up tree: a `pub mod` per top-level file, the layers of those known."""
    tops = sorted({rel.split("/")[0].removesuffix(".rs") for rel in files})
    lines = ["//! Layers:"]
    for layer in sorted(set(SELF_TEST_LAYERS.values())):
        names = [f"[`{t}`]" for t in tops if SELF_TEST_LAYERS.get(t) == layer]
        if names:
            lines.append(f"//! - L{layer}: " + ", ".join(names))
    lines += [f"pub mod {t};" for t in tops]
    return "\n".join(lines) + "\n"


def self_test():
    import io
    failed = 0
    for name, files, known, want_status, want_text in SELF_TESTS:
        with tempfile.TemporaryDirectory() as root:
            src = os.path.join(root, "src")
            files = dict({"lib.rs": self_test_lib(files)}, **files)
            for rel, text in files.items():
                full = os.path.join(src, rel)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w", encoding="utf-8") as f:
                    f.write(text)
            out = io.StringIO()
            cwd = os.getcwd()
            os.chdir(root)  # file names in the output are relative to the working directory
            try:
                status = check("src", out, known)
            finally:
                os.chdir(cwd)
            text = out.getvalue()
            if status != want_status or want_text not in text:
                failed += 1
                print(f"self-test FAILED: {name}: exit {status} (wanted {want_status}), "
                      f"output lacks {want_text!r}:\n{text}")
            else:
                print(f"self-test ok: {name}")
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    src = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    return check(src)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
