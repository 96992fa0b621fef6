"""rs_bpe's counts are tiktoken's: on every vocabulary entry, every corpus file, adversarial text.

The product counts cl100k_base and o200k_base with rs_bpe (``tokenizer/fastcount.py``). It is
only an optimisation if it never disagrees with plain tiktoken (``conftest.reference_encoding``,
built independently of the product), so these tests compare the two directly.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt_tokens.tokenizer import encodings
from prompt_tokens.tokenizer.counter import count_stream, count_text_parallel
from prompt_tokens.tokenizer.encodings import ENCODINGS, get_encoding
from prompt_tokens.tokenizer.fastcount import OpenAIEncoder, load_fast
from tests.conftest import reference_encoding
from tests.unit.shared_corpus import corpus_files

# What pre-tokenizers disagree on: every kind of whitespace (Python's \s is wider than the Rust
# regex's), line breaks, contractions in both cases and with the typographic apostrophe, digit
# runs of several scripts, letters and marks of several scripts, title case, emoji sequences,
# punctuation runs before line breaks and '/' (o200k's punctuation piece), NUL and friends.
ATOMS = [
    *" \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000",
    *"\u200b\ufeff\x00\x7f",
    *"aAzZsStTdDmMlLrRvVeEiIoO",
    *"'’`\"",
    *"0123456789٣٤０１²½Ⅻ𝟘",
    *"éÉßñÅΩщЖǅᾈ𝔘\u05d0\u0627\u0915\u093f\u0e01\u0e31漢字かなカナ한국어",
    *"\u0300\u0301\u0308\u20dd\u200d\u200c",
    *".,;:!?/\\-_=+*#@{}[]()<>|~^$%&",
    "😀", "👩\u200d💻", "🏳️\u200d🌈", "\U0001f3fb", "🇺🇸",
]  # fmt: skip
WORDS = [
    "'s", "'S", "'ll", "'LL", "'re", "'Ve", "'d", "'M", "’s", "n't", "don't", "I'M",
    "\r\n", "\n\n", "  \n", "\n  ", "   ", "\t\n", " \r\n\r\n ", "\n//", "();\n//", "\n/*",
    "1234567", "12.5e10", "0x1F", "CamelCase", "HTTPServer", "snake_case", "<|endoftext|>",
    "```py\n", "{{ var }}", "@scope/pkg", "#file:", "https://x.y/z?q=1",
]  # fmt: skip

adversarial = st.lists(
    st.sampled_from(ATOMS) | st.sampled_from(WORDS) | st.text(max_size=3), max_size=80
).map("".join)


@pytest.fixture(autouse=True)
def _fast_on() -> None:
    if not all(getattr(get_encoding(n), "fast", False) for n in ENCODINGS):
        pytest.fail("rs_bpe is a dependency on this platform and must be counting here")


def _plain(name: str, text: str) -> int:
    return len(reference_encoding(name).encode_ordinary(text))


@pytest.mark.parametrize("name", ENCODINGS)
def test_vocabulary_is_tiktokens(name: str) -> None:
    """Every token id stands for the same bytes in both (the ranks tiktoken pins by sha256)."""
    fast = load_fast(name)
    ref = reference_encoding(name)
    n = len(ref._mergeable_ranks)
    ours = [fast.bpe().decode_tokens([i]) for i in range(n)]
    assert ours == [ref.decode_single_token_bytes(i) for i in range(n)]


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_corpus_file(name: str) -> None:
    enc = get_encoding(name)
    files = corpus_files()
    assert len(files) > 100
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        assert enc.count(text) == _plain(name, text), path


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_code_point(name: str) -> None:
    """Every Unicode scalar value, between letters and before a contraction: where the two
    pre-tokenizers' Unicode tables (letter, number, whitespace classes) could differ."""
    fast = load_fast(name)
    ref = reference_encoding(name)
    bad = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # lone surrogates: rs_bpe refuses them and tiktoken counts (tested below)
        for text in (f"a{chr(cp)}b", f" {chr(cp)}'s"):
            if fast.count(text) != len(ref.encode_ordinary(text)):
                bad.append(text)
    assert bad == []


@settings(max_examples=1500, deadline=None)
@given(text=adversarial, name=st.sampled_from(ENCODINGS))
def test_adversarial_text(text: str, name: str) -> None:
    assert get_encoding(name).count(text) == _plain(name, text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), name=st.sampled_from(ENCODINGS))
def test_any_text_even_lone_surrogates(text: str, name: str) -> None:
    """Hypothesis' text includes lone surrogates (possible from JSON): tiktoken counts those."""
    assert get_encoding(name).count(text) == _plain(name, text)
    assert get_encoding(name).count(text + "\ud800") == _plain(name, text + "\ud800")


@pytest.mark.parametrize("name", ENCODINGS)
def test_long_runs(name: str) -> None:
    """Runs where BPE or the whitespace look-ahead work hardest."""
    for text in ("x" * 50_000, " " * 40_000 + "a", "\n" * 9_999, "1" * 9_999, "😀" * 3_000,
                 "a b " * 10_000, " \n" * 5_000 + "  ", "ab" * 20_000 + "\u0301"):  # fmt: skip
        assert get_encoding(name).count(text) == _plain(name, text), text[:8]


def test_streams_and_parallel_counts_use_one_thread_and_stay_exact() -> None:
    """rs_bpe holds the GIL: the block paths count on one thread, with the same totals."""
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in corpus_files())
    assert not get_encoding("cl100k_base").releases_gil
    assert count_text_parallel(text, "cl100k_base", block_chars=4096) == _plain("cl100k_base", text)
    data = text.encode()
    chunks = (data[i : i + 10_000] for i in range(0, len(data), 10_000))
    streamed = count_stream(chunks, "o200k_base", block_chars=4096)
    assert streamed.tokens == _plain("o200k_base", data.decode())


def test_switch_off_and_other_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    """``PROMPT_TOKENS_FAST_COUNT=0`` or an unproven rs_bpe release: tiktoken counts."""
    import rs_bpe

    monkeypatch.setenv("PROMPT_TOKENS_FAST_COUNT", "0")
    assert load_fast("cl100k_base") is None
    monkeypatch.setattr(encodings, "_loaded", {})
    enc = get_encoding("cl100k_base")
    assert isinstance(enc, OpenAIEncoder) and not enc.fast and enc.releases_gil
    assert enc.count("hello world") == 2
    monkeypatch.delenv("PROMPT_TOKENS_FAST_COUNT")
    assert load_fast("cl100k_base") is not None
    monkeypatch.setattr(rs_bpe, "__version__", "9.9.9")
    assert load_fast("o200k_base") is None


def test_tiktoken_loads_only_when_token_ids_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encodings, "_loaded", {})
    loads: list[str] = []
    real = encodings.load_encoding

    def spy(name: str) -> object:
        loads.append(name)
        return real(name)

    monkeypatch.setattr(encodings, "load_encoding", spy)
    enc = get_encoding("o200k_base")
    assert enc.count("some text") == _plain("o200k_base", "some text")
    assert loads == []
    assert enc.encode_ordinary("some text") == reference_encoding("o200k_base").encode_ordinary(
        "some text"
    )
    assert loads == ["o200k_base"]


def test_long_counts_off_the_main_thread_hand_the_gil_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """rs_bpe holds the GIL: after a long count in a worker thread the event loop (main thread)
    gets it at once (``sleep(0)``); the main thread itself and short texts skip the hand-off."""
    import threading

    from prompt_tokens.tokenizer import fastcount

    sleeps: list[float] = []
    monkeypatch.setattr(fastcount.time, "sleep", sleeps.append)
    enc = get_encoding("cl100k_base")
    long_text = "word " * fastcount.YIELD_AFTER_CHARS
    assert enc.count(long_text) == _plain("cl100k_base", long_text)
    assert sleeps == []  # the main thread has no one to hand the GIL to

    def in_thread(text: str) -> None:
        enc.count(text)

    for text in ("short", long_text):
        t = threading.Thread(target=in_thread, args=(text,))
        t.start()
        t.join()
    assert sleeps == [0]
