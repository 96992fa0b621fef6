"""Proof tests for the safe-cut rules: cutting there never changes the count.

A safe cut must be a pre-tokenizer piece boundary for *every* text around it. These tests check
the strongest observable form of that, for every exact tokenizer (OpenAI encodings, Qwen,
DeepSeek, Mistral tekken): the concatenated tokens of the parts equal the tokens of the whole
(so the counts are equal too), for text built from adversarial alphabets (every letter case
class, combining marks and NFC-composable sequences, Hangul jamo, contractions, digits and
digit runs, CJK and kana runs, Unicode whitespace including the characters Python's
``str.isspace()`` and the regex engines' ``\\s`` disagree on, ``\\r``, ``\\r\\n``, ``/``, ``//``,
punctuation, special-token strings, emoji with joiners and skin tones) and for real text.

``PT_PROOF_EXAMPLES`` sets the number of hypothesis examples of the main proof (default 2000 per
tokenizer; run ``PT_PROOF_EXAMPLES=20000 pytest tests/unit/test_boundaries.py`` for the heavy run).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from functools import cache
from itertools import accumulate, pairwise
from pathlib import Path
from types import ModuleType

import pytest
import regex
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from prompt_tokens.errors import UnknownEncodingError
from prompt_tokens.tokenizer.boundaries import (
    SAFE_CUT,
    resplit_edit,
    safe_cut_pattern,
    split_blocks,
)
from prompt_tokens.tokenizer.encodings import TOKENIZERS, get_encoding, load_encoding
from tests.conftest import plain_count
from tests.unit.shared_corpus import corpus_dir

ROOT = Path(__file__).resolve().parents[2]

PROOF_EXAMPLES = int(os.environ.get("PT_PROOF_EXAMPLES", "2000"))
# Secondary properties (block targets, prefixes, edits) run a fraction of the main proof.
SIDE_EXAMPLES = max(100, PROOF_EXAMPLES // 5)

proof_settings = settings(
    max_examples=PROOF_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
side_settings = settings(
    max_examples=SIDE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ENCODINGS = ("cl100k_base", "o200k_base")
# Every exact tokenizer, each proven against its own whole-text count.
ALL_TOKENIZERS = TOKENIZERS

# ------------------------------------------------------------------------------------------
# Adversarial alphabet
# ------------------------------------------------------------------------------------------
LETTERS = [
    *"AZÉÑΣЖ",  # Lu
    *"azéñσжß",  # Ll
    *"ǅǈǋǲᾈ",  # Lt
    *"ʰʲˆーᵃ々",  # Lm
    *"あ中אاกᄀ",  # Lo
    "中文字",  # a CJK run (DeepSeek isolates them)
    "ひらがなカタカナ",
    "\u1100\u1161",  # Hangul L+V jamo: NFC composes them
    "\u1161",
    "\u11a8",
    "\u212b",  # ANGSTROM SIGN: NFC changes it
    "\uf900",  # CJK compatibility ideograph: NFC changes it
    "Hello",
    "WORLD",
    "ǅungla",
    "naïve",
    "ΣΊΣΥΦΟΣ",
]
MARKS = ["\u0301", "\u0308", "\u0300", "\u093f", "\u0903", "\u20dd", "e\u0301", "\u0915\u093f"]
MARKS += ["\u0344", "\u0958", "\u0323\u0307", "\u0307\u0323", "A\u030a"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'ve", "'m", "'ll", "'LL", "'d", "'D"]
CONTRACTIONS += ["’s", "'", "''", "don't", "I'LL", "'sx"]
DIGITS = [*"0179", "٣", "４", "Ⅻ", "²", "½", "12345", "3.14", "1234567"]
WHITESPACE = [" ", "  ", "    ", "\t", "\u00a0", "\u2028", "\u2029", "\u3000", "\x1c", "\x1d"]
WHITESPACE += ["\x1e", "\x1f", "\x85", "\x0b", "\x0c", "\u1680", "\u2000", "\u200a", "\u202f"]
WHITESPACE += ["\u205f", "\u180e", "\u200b", "\ufeff", " \t ", "\u2001"]
BREAKS = ["\r", "\n", "\r\n", "\n\n", "\r\r\n", "\n\r", " \n", "\t\n"]
SLASHES = ["/", "//", "///", " //", " /", "/*", "*/"]
PUNCT = [*'.,;:!?()[]{}<>"`~@#$%^&*-_=+|\\', "...", "();", "-->", "<|endoftext|>", "{{", "}}"]
PUNCT += ["#include", "-abc", "<think>", "<｜User｜>", "<|im_start|>", "[INST]", "<s>", "，", "。"]
EMOJI = [
    "👍",
    "🏽",
    "👍🏽",
    "\u200d",
    "\ufe0f",
    "👨\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈",
    "🇫🇷",
    "🧑🏿\u200d💻",
]

FRAGMENTS = (
    LETTERS + MARKS + CONTRACTIONS + DIGITS + WHITESPACE + BREAKS * 3 + SLASHES + PUNCT + EMOJI
)

fragment = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.sampled_from(FRAGMENTS),
    st.sampled_from(FRAGMENTS),
    st.sampled_from(BREAKS + WHITESPACE + SLASHES),
    st.characters(exclude_categories=("Cs",)),
)

adversarial_text = st.lists(fragment, max_size=48).map("".join)


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def tokens(encoding: str, text: str) -> list[int]:
    return get_encoding(encoding).encode_ordinary(text)


def split_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def assert_cuts_exact(encoding: str, text: str, cuts: list[int]) -> None:
    """Cutting at ``cuts`` gives the same tokens (so the same count) as the whole text."""
    parts = split_at(text, cuts)
    assert "".join(parts) == text
    joined: list[int] = []
    for p in parts:
        joined.extend(tokens(encoding, p))
    whole = tokens(encoding, text)
    assert len(joined) == len(whole) == plain_count(encoding, text)
    assert joined == whole


def safe_cuts(text: str, encoding: str) -> list[int]:
    """Positions (just after the newline) where ``text`` may be cut under ``encoding``'s rule."""
    return [m.end() for m in safe_cut_pattern(encoding).finditer(text)]


@cache
def piece_splitter(encoding: str) -> tuple[Callable[[str], str], Callable[[str], list[int]]]:
    """(normaliser, piece ends) of a tokenizer's own pre-tokenizer.

    tiktoken-based tokenizers: their ``pat_str`` run by the ``regex`` module (what tiktoken's
    own ``_encode_only_native_bpe`` uses); Qwen normalises to NFC first. DeepSeek: the Hugging
    Face pre-tokenizer itself (``pre_tokenize_str`` gives character offsets).
    """
    enc = get_encoding(encoding)
    if encoding == "deepseek-v4":
        pre = enc._tok.pre_tokenizer
        return (lambda t: t), lambda t: [end for _, (_, end) in pre.pre_tokenize_str(t)]
    if encoding.startswith("qwen"):
        inner = enc._tok._tokenizer
        norm: Callable[[str], str] = lambda t: unicodedata.normalize("NFC", t)  # noqa: E731
    elif encoding == "mistral-tekken":
        inner, norm = enc._tok._model, (lambda t: t)
    else:
        inner, norm = load_encoding(encoding), (lambda t: t)
    pat = regex.compile(inner._pat_str)
    return norm, lambda t: list(accumulate(len(p) for p in pat.findall(t)))


def assert_cuts_are_piece_boundaries(encoding: str, text: str, cuts: list[int]) -> None:
    """The structural form of the proof: every cut is a boundary of the pre-tokenizer's pieces.

    Token equality alone can miss an unsafe cut when the vocabulary happens to have no merge
    across it (``"\\n\\xa0\\n"`` is one piece but encodes as ``"\\n"``, ``"\\xa0\\n"``). That
    the pieces split like the tokenizer's engine is checked on the same text through the
    tokens; where they do not (characters the two engines' Unicode tables classify differently,
    e.g. letters newer than tiktoken's tables) only the token-level check above applies. With a
    normaliser (Qwen: NFC) the cut must also split the normalised text into the normalised
    parts, and the boundary is checked at the cut's position in the normalised text.
    """
    norm, piece_ends = piece_splitter(encoding)
    normal = norm(text)
    ends = piece_ends(normal)
    assert (ends[-1] if ends else 0) == len(normal)
    pieces = [normal[a:b] for a, b in pairwise([0, *ends])]
    if [t for p in pieces for t in tokens(encoding, p)] != tokens(encoding, text):
        note("pre-tokenizer pieces differ from the engine's here; piece check skipped")
        return
    normal_parts = [norm(p) for p in split_at(text, cuts)]
    assert "".join(normal_parts) == normal, "the normaliser composes across a cut"
    mapped = list(accumulate(len(p) for p in normal_parts))[:-1]
    bounds = set(ends)
    assert not [c for c in mapped if c not in bounds], "a safe cut falls inside a piece"


@cache
def corpus() -> ModuleType:
    """benchmarks/corpus.py, loaded by path (benchmarks/ is not a package)."""
    path = ROOT / "benchmarks" / "corpus.py"
    spec = importlib.util.spec_from_file_location("pt_bench_corpus", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def real_texts() -> list[tuple[str, str]]:
    """Real files: the shared design docs and corpus, this repository's docs and sources."""
    shared = corpus_dir().parent
    found = sorted(p for p in shared.rglob("*") if p.suffix in {".md", ".py", ".js", ".el"})
    files = [(p, p.relative_to(shared.parent)) for p in found]
    own = sorted((ROOT / "server" / "prompt_tokens").rglob("*.py"))
    own += sorted(p for p in (ROOT / "examples").rglob("*") if p.is_file())
    own += [ROOT / "README.md"]
    files += [(p, p.relative_to(ROOT.parent)) for p in own]
    out = []
    for p, label in files:
        try:
            out.append((str(label), p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return out


def naive_cuts(text: str) -> list[int]:
    return [m.end() for m in SAFE_CUT["cl100k_base"].finditer(text)]


# ------------------------------------------------------------------------------------------
# The proof: every safe cut, adversarial text
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@proof_settings
@given(text=adversarial_text)
def test_every_safe_cut_is_exact(encoding: str, text: str) -> None:
    cuts = safe_cuts(text, encoding)
    assert_cuts_exact(encoding, text, cuts)
    assert_cuts_are_piece_boundaries(encoding, text, cuts)


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@proof_settings
@given(lines=st.lists(adversarial_text, min_size=2, max_size=8), crlf=st.booleans())
def test_every_safe_cut_is_exact_multiline(encoding: str, lines: list[str], crlf: bool) -> None:
    """Many short lines, so most texts have several cuts."""
    text = ("\r\n" if crlf else "\n").join(lines)
    cuts = safe_cuts(text, encoding)
    assert_cuts_exact(encoding, text, cuts)
    assert_cuts_are_piece_boundaries(encoding, text, cuts)


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@pytest.mark.parametrize("target", [1, 7, 64])
@side_settings
@given(lines=st.lists(adversarial_text, max_size=8))
def test_split_blocks_is_exact(encoding: str, target: int, lines: list[str]) -> None:
    text = "\n".join(lines)
    blocks = split_blocks(text, encoding, target)
    assert "".join(blocks) == text
    assert blocks and all(blocks[:-1])
    assert all(len(b) >= target for b in blocks[:-1])
    cuts = [sum(map(len, blocks[: k + 1])) for k in range(len(blocks) - 1)]
    assert set(cuts) <= set(safe_cuts(text, encoding))
    assert sum(plain_count(encoding, b) for b in blocks) == plain_count(encoding, text)


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@side_settings
@given(lines=st.lists(adversarial_text, max_size=8), data=st.data())
def test_cut_found_in_a_prefix_is_a_cut_of_the_whole(encoding: str, lines: list[str], data) -> None:
    """Streaming emits up to a cut found in a partial buffer: it must survive any continuation."""
    text = "\n".join(lines)
    n = data.draw(st.integers(0, len(text)), label="prefix")
    assert set(safe_cuts(text[:n], encoding)) <= set(safe_cuts(text, encoding))


def test_unknown_encoding_has_no_rule() -> None:
    with pytest.raises(UnknownEncodingError):
        safe_cut_pattern("p50k_base")
    with pytest.raises(UnknownEncodingError):
        split_blocks("a\nb", "gpt2")


def test_rule_does_not_treat_python_whitespace_as_text() -> None:
    """\\x1c..\\x1f are ``str.isspace()`` but not regex ``\\s``: never a cut before them alone."""
    for enc in ALL_TOKENIZERS:
        for ch in "\x1c\x1d\x1e\x1f\x85\u2028\u3000\u00a0":
            assert safe_cuts(f"a\n{ch}", enc) == []
            assert safe_cuts(f"a\n{ch}\n", enc) == []


# ------------------------------------------------------------------------------------------
# Real text, LF and CRLF, every safe cut
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_every_safe_cut_in_real_files(encoding: str, crlf: bool) -> None:
    texts = real_texts()
    assert len(texts) >= 10
    total_cuts = 0
    for _name, text in texts:
        if crlf:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        cuts = safe_cuts(text, encoding)
        total_cuts += len(cuts)
        assert_cuts_exact(encoding, text, cuts)
        assert_cuts_are_piece_boundaries(encoding, text, cuts)
    assert total_cuts > 1000


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@pytest.mark.parametrize("crlf", [None, False, True], ids=["mixed", "lf", "crlf"])
def test_every_safe_cut_in_generated_corpus(encoding: str, crlf: bool | None) -> None:
    text = corpus().generate_text(600_000, seed=11, crlf=crlf)
    cuts = safe_cuts(text, encoding)
    assert len(cuts) > 5000
    assert_cuts_exact(encoding, text, cuts)
    assert_cuts_are_piece_boundaries(encoding, text, cuts)
    blocks = split_blocks(text, encoding)
    assert sum(plain_count(encoding, b) for b in blocks) == plain_count(encoding, text)


# ------------------------------------------------------------------------------------------
# Why o200k needs its stricter rule
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["o200k_base", "mistral-tekken"])
@pytest.mark.parametrize(
    "text",
    ["foo();\n// c", "x = 1;\n//", "a)\n/b", "end.\r\n// note", "}\n/* doc */", "  },\n// next"],
)
def test_naive_rule_is_not_safe_for_o200k_like_patterns(encoding: str, text: str) -> None:
    """o200k and tekken share the punctuation piece that runs through a newline into ``/``."""
    cuts = naive_cuts(text)
    assert cuts, "the naive cl100k rule cuts here"
    _, piece_ends = piece_splitter(encoding)
    assert not set(cuts) <= set(piece_ends(text)), "the naive cut falls inside a piece"
    if encoding == "o200k_base":
        parts = split_at(text, cuts)
        joined = [t for p in parts for t in tokens(encoding, p)]
        assert joined != tokens(encoding, text), "... and changes the tokens"
        if text in ("foo();\n// c", "end.\r\n// note"):
            assert len(joined) == plain_count(encoding, text) + 1  # and the count itself
    # ... while their rule does not cut there, and the naive rule is fine for cl100k.
    assert not set(cuts) & set(safe_cuts(text, encoding))
    assert_cuts_exact("cl100k_base", text, cuts)


def test_every_tokenizer_has_a_rule_and_headings_are_cuts() -> None:
    """``document.split_text`` cuts before every heading line whatever the tokenizer."""
    assert set(SAFE_CUT) == set(ALL_TOKENIZERS)
    text = "intro\n# Title\nbody;\n## Sub\n\n###### Deep\tx\n"
    heads = [m.start() for m in re.finditer(r"(?<=\n)#{1,6}[ \t]", text)]
    for enc in ALL_TOKENIZERS:
        assert set(heads) <= set(safe_cuts(text, enc)), enc
        assert_cuts_exact(enc, text, heads)


def test_naive_rule_miscounts_real_code_in_o200k() -> None:
    """The piece `` ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*`` runs through a newline into a column-0 ``/``."""
    text = corpus().generate_text(400_000, seed=5)
    assert re.search(r"[;)}]\n//", text)
    parts = split_at(text, naive_cuts(text))
    naive = sum(plain_count("o200k_base", p) for p in parts)
    exact = plain_count("o200k_base", text)
    assert naive > exact  # the naive rule overcounts
    o200k_parts = split_at(text, safe_cuts(text, "o200k_base"))
    assert sum(plain_count("o200k_base", p) for p in o200k_parts) == exact


# ------------------------------------------------------------------------------------------
# Incremental re-split after an edit
# ------------------------------------------------------------------------------------------
def starts_of(blocks: list[str]) -> list[int]:
    out, pos = [], 0
    for b in blocks:
        out.append(pos)
        pos += len(b)
    return out


def apply_edit(
    encoding: str, blocks: list[str], start: int, end: int, repl: str, target: int
) -> list[str]:
    i, j, new = resplit_edit(blocks, starts_of(blocks), start, end, repl, encoding, target)
    # Only the touched blocks (and at most one neighbour on the left) are replaced.
    starts = starts_of(blocks)
    assert i == 0 or starts[i] <= start
    assert j == len(blocks) or starts[j] > end
    return blocks[:i] + new + blocks[j:]


def assert_blocks_exact(encoding: str, blocks: list[str], text: str) -> None:
    assert "".join(blocks) == text
    assert all(blocks)
    cuts = starts_of(blocks)[1:]
    assert set(cuts) <= set(safe_cuts(text, encoding)), "every block boundary is a safe cut"
    assert sum(plain_count(encoding, b) for b in blocks) == plain_count(encoding, text)


edit_strategy = st.tuples(
    st.integers(0, 10**6), st.integers(0, 12), st.lists(fragment, max_size=4).map("".join)
)


@pytest.mark.parametrize("encoding", ALL_TOKENIZERS)
@side_settings
@given(
    lines=st.lists(adversarial_text, max_size=10),
    edits=st.lists(edit_strategy, min_size=1, max_size=5),
    target=st.sampled_from([1, 8, 40]),
)
def test_resplit_edit_is_exact(encoding: str, lines: list[str], edits, target: int) -> None:
    text = "\n".join(lines)
    blocks = [b for b in split_blocks(text, encoding, target) if b]
    for pos, length, repl in edits:
        start = pos % (len(text) + 1)
        end = min(len(text), start + length)
        text = text[:start] + repl + text[end:]
        blocks = apply_edit(encoding, blocks, start, end, repl, target)
        assert_blocks_exact(encoding, blocks, text)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_resplit_edit_on_real_text(encoding: str) -> None:
    import random

    rnd = random.Random(7)
    text = corpus().generate_text(200_000, seed=3)
    blocks = split_blocks(text, encoding, 1024)
    for _ in range(150):
        start = rnd.randrange(len(text) + 1)
        end = min(len(text), start + rnd.choice([0, 0, 1, 2, 30, 3000]))
        repl = rnd.choice(["", "x", "\n", "\n//", " ", "\r\n", "();\n// c\n", "'LL", "👍🏽\n\n"])
        text = text[:start] + repl + text[end:]
        blocks = apply_edit(encoding, blocks, start, end, repl, 1024)
    assert_blocks_exact(encoding, blocks, text)


def test_resplit_edit_touches_few_blocks() -> None:
    text = corpus().generate_text(200_000, seed=4, crlf=False)
    blocks = split_blocks(text, "cl100k_base", 4096)
    mid = len(text) // 2
    starts = starts_of(blocks)
    i, j, new = resplit_edit(blocks, starts, mid, mid + 1, "Z", "cl100k_base", 4096)
    assert j - i <= 2 and len(new) <= 3


def test_resplit_edit_edges() -> None:
    enc = "cl100k_base"
    assert resplit_edit([], [], 0, 0, "", enc) == (0, 0, [])
    assert resplit_edit([], [], 0, 0, "a\nb", enc, 1) == (0, 0, ["a\n", "b"])
    with pytest.raises(ValueError):
        resplit_edit([], [], 0, 1, "", enc)
    with pytest.raises(ValueError):
        resplit_edit(["ab"], [0], 1, 5, "", enc)
    with pytest.raises(ValueError):
        resplit_edit(["ab"], [0], 2, 1, "", enc)
    # Deleting everything leaves no blocks.
    assert resplit_edit(["a\n", "b"], [0, 2], 0, 3, "", enc, 1) == (0, 2, [])
    # An edit that breaks the look-ahead of the cut before the edited block pulls it in.
    blocks = ["a\n", "b\n", "c"]
    i, j, new = resplit_edit(blocks, [0, 2, 4], 2, 2, " \n", enc, 1)
    assert (i, j) == (0, 2)
    assert "".join(new) == "a\n \nb\n"
