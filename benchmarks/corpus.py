"""Deterministic generator of realistic prompt-ish text for benchmarks and tests.

Produces a mix of documents: English prose (contractions, numbers, quotes, a little of other
scripts), Markdown (headings, lists, tables, fenced code, links), Python, JavaScript with ``//``
comments in column 0 and indented, JSON (pretty and minified), and Unicode-heavy text (CJK,
combining marks, emoji with ZWJ joiners and skin tones, exotic whitespace). About a fifth of the
documents use CRLF line endings and a few contain lone ``\\r``. Same seed, same text.

Used by ``benchmarks/bench_foundation.py`` and by the unit tests (as "real text" next to the
files in ``../shared``). Import it with the ``benchmarks`` folder on ``sys.path`` or load it by
path; it depends on the standard library only.
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which "
    "she do how their if will up other about out many then them these so some her would make "
    "like him into time has look two more write go see number no way could people my than "
    "first water been call who oil its now find long down day did get come made may part "
    "model prompt token context window budget system user assistant answer question reference "
    "document file section summary example instruction response format output input cache "
    "language server editor encoding count exact stream block boundary newline whitespace "
    "function variable template include attachment markdown repository workspace project"
).split()

CONTRACTIONS = (
    "don't",
    "it's",
    "We'll",
    "you're",
    "they've",
    "I'm",
    "she'd",
    "can't",
    "WON'T",
    "O'Brien",
    "isn't",
    "THEY'LL",
    "we'd",
    "I've",
    "let's",
    "that's",
)

FOREIGN = (
    "Größe",
    "naïve",
    "café",
    "façade",
    "Ελληνικά",
    "ζωή",
    "Привет",
    "мир",
    "日本語",
    "中文字符",
    "한국어",
    "עברית",
    "العربية",
    "हिन्दी",
    "ไทย",
    "Ǆemal",
    "ǅungla",
    "ʰaspirated",
    "ｆｕｌｌ",
    "e\u0301cole",
    "n\u0303o",
    "Ⅻ",
    "½",
    "²",
    "٣٤٥",
    "４２",
)

EMOJI = (
    "👍",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🧑🏿‍💻",
    "❤️",
    "🚀",
    "✅",
    "⚠️",
    "🎉",
    "👩🏻‍🔬",
    "🇫🇷",
)

ODD_SPACE = ("\u00a0", "\u3000", "\u2009", "\u202f", "\t", "  ")

IDENTS = (
    "count",
    "tokens",
    "block",
    "text",
    "enc",
    "cache",
    "path",
    "result",
    "value",
    "items",
    "config",
    "client",
    "server",
    "doc",
    "line",
    "offset",
    "total",
    "budget",
    "model",
    "name",
)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    # --- pieces -------------------------------------------------------------------------------
    def word(self) -> str:
        x = self.r.random()
        if x < 0.04:
            return self.r.choice(CONTRACTIONS)
        if x < 0.06:
            return self.r.choice(FOREIGN)
        if x < 0.075:
            return str(self.r.randint(0, 100_000))
        if x < 0.08:
            return self.r.choice(EMOJI)
        return self.r.choice(WORDS)

    def sentence(self) -> str:
        n = self.r.randint(4, 22)
        words = [self.word() for _ in range(n)]
        words[0] = words[0][:1].upper() + words[0][1:]
        if self.r.random() < 0.15:
            i = self.r.randrange(n)
            words[i] = f'"{words[i]}"'
        if self.r.random() < 0.1:
            i = self.r.randrange(n)
            words[i] = f"({words[i]})"
        sep = " "
        if self.r.random() < 0.03:
            sep = self.r.choice(ODD_SPACE)
        return sep.join(words) + self.r.choice(".....?!:;")

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.r.randint(1, 7)))

    def ident(self) -> str:
        a = self.r.choice(IDENTS)
        if self.r.random() < 0.4:
            a += "_" + self.r.choice(IDENTS)
        return a

    # --- documents ----------------------------------------------------------------------------
    def prose(self) -> str:
        return "\n\n".join(self.paragraph() for _ in range(self.r.randint(2, 12))) + "\n"

    def python(self) -> str:
        out: list[str] = [f'"""{self.sentence()}"""', "", "from __future__ import annotations", ""]
        for _ in range(self.r.randint(2, 8)):
            if self.r.random() < 0.3:
                out.append("@functools.lru_cache(maxsize=128)")
            fn = self.ident()
            args = ", ".join(self.ident() for _ in range(self.r.randint(0, 3)))
            out.append(f"def {fn}({args}) -> int:")
            out.append(f'    """{self.sentence()}"""')
            for _ in range(self.r.randint(1, 8)):
                ind = "    " * self.r.randint(1, 3)
                k = self.r.random()
                if k < 0.2:
                    out.append(f"{ind}# {self.sentence()}")
                elif k < 0.4:
                    out.append(f"{ind}if {self.ident()} > {self.r.randint(0, 999)}:")
                elif k < 0.55:
                    out.append(f'{ind}{self.ident()} = f"{{{self.ident()}!r}}: {self.word()}"')
                elif k < 0.65:
                    out.append("")
                else:
                    out.append(
                        f"{ind}{self.ident()} = {self.ident()}({self.ident()}, {self.r.random():.3f})"
                    )
            out.append(f"    return {self.ident()}")
            out.append("")
            out.append("")
        return "\n".join(out)

    def javascript(self) -> str:
        out: list[str] = [f"// {self.sentence()}", "'use strict';", ""]
        for _ in range(self.r.randint(2, 8)):
            fn = self.ident().replace("_", "")
            out.append(f"/** {self.sentence()} */")
            out.append(f"export function {fn}({self.ident()}, {self.ident()}) {{")
            for _ in range(self.r.randint(1, 8)):
                ind = "  " * self.r.randint(1, 3)
                k = self.r.random()
                if k < 0.2:
                    out.append(f"{ind}// {self.sentence()}")
                elif k < 0.3:
                    out.append(f"// {self.word()} {self.word()}")  # column-0 comment after code
                elif k < 0.45:
                    out.append(
                        f"{ind}const {self.ident()} = {{ {self.ident()}: {self.r.randint(0, 99)}, '{self.word()}': null }};"
                    )
                elif k < 0.6:
                    out.append(f"{ind}{self.ident()}();")
                elif k < 0.7:
                    out.append(f"{ind}if ({self.ident()} === undefined) return [];")
                elif k < 0.8:
                    out.append(
                        f"{ind}items.map((x) => x * {self.r.randint(2, 9)}).filter(Boolean);"
                    )
                else:
                    out.append(f"{ind}console.log(`{self.sentence()} ${{{self.ident()}}}`);")
            out.append("}")
            out.append("//" if self.r.random() < 0.2 else "")
        return "\n".join(out) + "\n"

    def json_doc(self) -> str:
        def value(depth: int) -> object:
            k = self.r.random()
            if depth > 2 or k < 0.3:
                return self.r.choice(
                    [self.word(), self.r.randint(-999, 99999), self.r.random(), True, None]
                )
            if k < 0.6:
                return [value(depth + 1) for _ in range(self.r.randint(0, 4))]
            return {self.ident(): value(depth + 1) for _ in range(self.r.randint(1, 5))}

        obj = {self.ident(): value(0) for _ in range(self.r.randint(3, 10))}
        if self.r.random() < 0.3:
            return json.dumps(obj, ensure_ascii=False) + "\n"
        return json.dumps(obj, ensure_ascii=self.r.random() < 0.2, indent=2) + "\n"

    def markdown(self) -> str:
        out: list[str] = [f"# {self.sentence()[:-1]}", ""]
        for _ in range(self.r.randint(2, 6)):
            k = self.r.random()
            if k < 0.25:
                out += [f"## {self.sentence()[:-1]}", "", self.paragraph(), ""]
            elif k < 0.45:
                out += [f"- {self.sentence()}" for _ in range(self.r.randint(2, 6))] + [""]
            elif k < 0.55:
                out += [f"{i + 1}. **{self.word()}**: {self.sentence()}" for i in range(3)] + [""]
            elif k < 0.65:
                out += ["| name | tokens | note |", "|---|---:|---|"]
                out += [
                    f"| `{self.ident()}` | {self.r.randint(1, 9999)} | {self.word()} |"
                    for _ in range(4)
                ]
                out.append("")
            elif k < 0.8:
                lang = self.r.choice(["python", "js", "json"])
                body = {"python": self.python, "js": self.javascript, "json": self.json_doc}[lang]()
                out += [f"```{lang}", body.rstrip("\n"), "```", ""]
            elif k < 0.9:
                out += [f"> {self.sentence()}", f"> {self.sentence()}", ""]
            else:
                out += [
                    f"See [{self.word()}](https://example.com/{self.ident()}) and @docs/{self.ident()}.md "
                    f"and {{{{ {self.ident()} }}}} and <|endoftext|>.",
                    "",
                ]
        return "\n".join(out)

    def unicode_doc(self) -> str:
        lines = []
        for _ in range(self.r.randint(3, 15)):
            parts = [
                self.r.choice(FOREIGN + EMOJI + CONTRACTIONS) for _ in range(self.r.randint(1, 12))
            ]
            sep = self.r.choice([" ", " ", "\u00a0", "\u3000", "\t", "", " \u2028 "])
            lead = self.r.choice(["", "", "  ", "\t", "\u3000", "// ", "/", " /", "\x1c"])
            lines.append(lead + sep.join(parts))
        return "\n".join(lines) + "\n"

    def document(self) -> tuple[str, str]:
        kinds: list[tuple[str, Callable[[], str], float]] = [
            ("prose", self.prose, 0.25),
            ("markdown", self.markdown, 0.25),
            ("python", self.python, 0.15),
            ("javascript", self.javascript, 0.15),
            ("json", self.json_doc, 0.1),
            ("unicode", self.unicode_doc, 0.1),
        ]
        kind, fn = self.r.choices([(k, f) for k, f, _ in kinds], weights=[w for *_, w in kinds])[0]
        text = fn()
        y = self.r.random()
        if y < 0.2:
            text = text.replace("\n", "\r\n")
            kind += "+crlf"
        elif y < 0.23:
            text = text.replace("\n", "\r", 3)
            kind += "+cr"
        return kind, text


def documents(seed: int = 0) -> Iterator[tuple[str, str]]:
    """An endless, deterministic stream of ``(kind, text)`` documents."""
    g = _Gen(seed)
    while True:
        yield g.document()


def generate_text(size_chars: int, seed: int = 0, *, crlf: bool | None = None) -> str:
    """At least ``size_chars`` characters of mixed documents (cut to exactly that length).

    ``crlf=True`` turns every line ending into ``\\r\\n``, ``False`` into ``\\n``; ``None`` keeps the
    natural mix (mostly LF, some CRLF and lone CR documents).
    """
    parts: list[str] = []
    n = 0
    for _kind, text in documents(seed):
        if crlf is not None:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if crlf:
                text = text.replace("\n", "\r\n")
        parts.append(text)
        n += len(text)
        if n >= size_chars:
            break
    return "".join(parts)[:size_chars]


def write_corpus(path: str | Path, size_bytes: int, seed: int = 0) -> int:
    """Write at least ``size_bytes`` bytes of UTF-8 mixed documents to ``path``; returns bytes.

    Written in ~1 MB slabs so memory stays small; every slab is freshly generated (~10 MB/s).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    docs = documents(seed)
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "wb") as fh:
        while written < size_bytes:
            slab_parts: list[str] = []
            slab_len = 0
            while slab_len < (1 << 20):
                _kind, text = next(docs)
                slab_parts.append(text)
                slab_len += len(text)
            slab = "".join(slab_parts).encode("utf-8")
            fh.write(slab)
            written += len(slab)
    tmp.replace(path)
    return written


# ---- code-heavy prompts from real source code ----------------------------------------------

CODE_PACKAGES = (
    "tiktoken",
    "pygls",
    "httpx",
    "lsprotocol",
    "cattrs",
    "attr",
    "yaml",
    "rich",
    "hypothesis",
    "_pytest",
    "pip",
)
"""Installed packages whose ``.py`` files make up :func:`code_prompt` (in this order)."""

CODE_REFERENCES = (
    "Follow @docs/style.md and answer from @docs/api.md (terms: #file:data/glossary.txt).\n"
    "Reply to {{ user }} in {{ language }}.\n"
)


def source_files(packages: tuple[str, ...] = CODE_PACKAGES) -> Iterator[Path]:
    """The ``.py`` files of installed ``packages`` (sorted paths, so the same venv gives the
    same text); missing packages are skipped."""
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            yield from sorted(Path(root).rglob("*.py"))


def code_prompt(size_chars: int, *, references_every: int = 100_000) -> str:
    """A Markdown prompt that is mostly real source code: each file of :data:`CODE_PACKAGES`
    in a ``python`` fence under a heading, with a line of prose around it and a few real
    references every ``references_every`` characters. Nothing is neutralised: the code keeps
    its ``#`` comments, braces, backticks, ``@decorators``, ``{{`` and Markdown in docstrings
    (a docstring's own ````` fence closes the wrapping one early, as it would for a user).
    Files are used again from the start when the packages run out; the text ends at a line
    break."""
    parts: list[str] = ["# Code review prompt\n\n", CODE_REFERENCES, "\n"]
    n = sum(len(p) for p in parts)
    next_ref = references_every
    while n < size_chars:
        added = 0
        for path in source_files():
            try:
                code = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            rel = "/".join(path.parts[-3:])
            piece = (
                f"## `{rel}`\n\nReview the module below; list bugs first, then style.\n\n"
                f"```python\n{code.rstrip()}\n```\n\n"
            )
            parts.append(piece)
            n += len(piece)
            added += len(piece)
            if n >= next_ref:
                parts.append(CODE_REFERENCES + "\n")
                next_ref += references_every
            if n >= size_chars:
                break
        if not added:
            raise RuntimeError("no Python source files found for the code-heavy prompt")
    text = "".join(parts)[:size_chars]
    return text[: max(text.rfind("\n"), 0) + 1]


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "corpus.txt"
    mb = float(sys.argv[2]) if len(sys.argv) > 2 else 8
    print(write_corpus(out, int(mb * (1 << 20))), "bytes written to", out)
