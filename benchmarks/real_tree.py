"""The real-file tree the CLI benchmark counts: text nobody here wrote, reference syntax intact.

``/work/shared/corpus`` is copied as it is; Markdown/text files shipped by installed packages
(the VS Code extension's npm dependencies, npm's own docs, the venv's site-packages,
/usr/share/doc) are added with their relative paths, each distinct content once (the CLI's
cache is content-addressed, so copies of one licence would flatter it), until a size cap.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from prompt_tokens.cli.discovery import walk

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
MB = 1 << 20
DOC_SUFFIXES = (".md", ".markdown", ".txt")
MAX_FILE = 2 * MB  # one huge changelog should not be a tenth of the corpus


def npm_modules() -> Path | None:
    """The VS Code extension's dependencies: its own node_modules, else a cached ``npm ci``."""
    ext = ROOT / "editors" / "vscode"
    if (ext / "node_modules").is_dir():
        return ext / "node_modules"
    cached = DATA / "npm-docs"
    if (cached / "node_modules").is_dir():
        return cached / "node_modules"
    npm = shutil.which("npm")
    if npm is None or not (ext / "package-lock.json").is_file():
        return None
    cached.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ext / name, cached / name)
    print(f"npm ci in {cached} (once; cached for later runs) …", flush=True)
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    done = subprocess.run(cmd, cwd=cached, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        print(f"npm ci failed: {done.stderr.strip()[-300:]}")
        return None
    return cached / "node_modules"


def doc_sources() -> list[tuple[str, Path]]:
    found = [
        ("npm", npm_modules()),
        ("npm-global", Path("/usr/lib/node_modules")),
        ("site-packages", Path(sysconfig.get_paths()["purelib"])),
        ("usr-share-doc", Path("/usr/share/doc")),
    ]
    return [(label, p) for label, p in found if p is not None and p.is_dir()]


def doc_files(base: Path) -> Iterator[tuple[Path, Path]]:
    """(source, relative destination) of the Markdown/text files under ``base``, sorted.

    ``prompt-tokens count DIR`` rightly skips folders named node_modules and hidden folders, so
    copies keep the path below ``base`` with ``node_modules`` spelled ``_node_modules``, and
    files under hidden folders are left out.
    """
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(base)
        parts = ["_node_modules" if p == "node_modules" else p for p in rel_dir.parts]
        for name in sorted(filenames):
            if name.lower().endswith(DOC_SUFFIXES):
                yield Path(dirpath) / name, Path(*parts, name)


def build_tree(root: Path, corpus: Path, cap: int) -> dict[str, tuple[int, int]]:
    """The workspace: corpus as is + package docs until ``cap`` bytes; files, bytes per source."""
    (root / ".git").mkdir(parents=True)
    shutil.copytree(corpus, root / "corpus")
    copied = [f for f in (root / "corpus").rglob("*") if f.is_file()]
    seen = {hashlib.sha256(f.read_bytes()).hexdigest() for f in copied}
    used = sum(f.stat().st_size for f in copied)
    summary = {"corpus": (len(copied), used)}
    for label, base in doc_sources():
        n = size = 0
        for src, rel in doc_files(base):
            if used >= cap:
                break
            try:
                data = src.read_bytes()
            except OSError:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if not data or len(data) > MAX_FILE or digest in seen:
                continue
            seen.add(digest)
            dest = root / "deps" / label / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            n, size, used = n + 1, size + len(data), used + len(data)
        summary[label] = (n, size)
    return summary


def counted_files(root: Path) -> list[Path]:
    """Exactly the files ``prompt-tokens count ROOT`` counts: the CLI's own folder walk."""
    return list(walk(root))


def make_big(dest: Path, files: list[Path], size: int) -> int:
    """One document of ``size``+ bytes: the real files, whole, one after another (cycled)."""
    written = 0
    with dest.open("wb") as out:
        while written < size:
            for f in files:
                data = f.read_bytes() + b"\n\n"
                out.write(data)
                written += len(data)
                if written >= size:
                    break
    return written
