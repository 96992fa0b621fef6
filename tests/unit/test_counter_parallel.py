"""count_text_parallel: the in-memory multi-threaded path equals plain tiktoken."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompt_tokens.tokenizer.counter import count_text_parallel
from tests.conftest import plain_count

LINES = st.sampled_from(
    [
        "def f(x):\n",
        "    return x  # c\n",
        "// comment\n",
        "\r\n",
        "\n",
        "  \n",
        "Hello, world!\n",
        "<|endoftext|>\n",
        "日本語のテキスト\n",
        "👩‍💻 emoji\n",
        "'s 'LL\n",
        "12345\n",
        "\t/\n",
    ]
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINES, max_size=400), st.sampled_from([8, 64, 500]))
def test_parallel_equals_plain(encoding_name: str, lines: list[str], block: int) -> None:
    text = "".join(lines)
    assert count_text_parallel(text, encoding_name, block_chars=block) == plain_count(
        encoding_name, text
    )


def test_parallel_on_real_text(encoding_name: str) -> None:
    from pathlib import Path

    text = Path(__file__).read_text() * 50
    assert count_text_parallel(text, encoding_name, block_chars=4096) == plain_count(
        encoding_name, text
    )
