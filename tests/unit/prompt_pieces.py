"""Adversarial pieces of prompt text for property tests: everything that moves safe cuts, line
ends and columns, and everything that carries the reference scanner's state across lines."""

from __future__ import annotations

# fmt: off
PIECES = [
    "a", "B", "word", " ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", "\n  ", "\n/", "//", "/",
    "😀", "👩‍👩‍👧", "é", "e\u0301", "中文", "'s", "'LL", "123", "4567", "!?", "...",
    "# ", "## Title\n", "\n# H\n", "```\n", "\n```", "~~~\n", "<|endoftext|>", "\u2028",
    "\x0b", "\x0c", "\x1c", "\x85", "\u00a0", "@a.md ", "{{ x }}",
]
"""Safe cuts, line ends, column units, headings and section fences."""

REF_PIECES = [
    *PIECES, "@docs/a.md", " @b.txt, ", "#file:c.py ", "@https://x.io/v1 ", "#fetch:http://y.z/a",
    "[t](d/e.md)", "{{ name }}", "{{#each xs}}", "{{/each}}", "{% set name = 1 %}", "{% for i in x %}",
    "{% endfor %}", "{# c", "#}", "{{!-- c", "--}}", "${input:who}", "`", "``", "```", "~~~",
    "> ```\n", "---\n", "\n---\n", "...\n", "\n\n", "\n \n", "a@b.com ", "\ufeff",
]
"""Reference syntax and what carries the scanner's state across lines."""

STATE_PIECES = [
    *REF_PIECES, "{% raw %}", "{% endraw %}", "{%- raw -%}", "{%-\n endraw\n-%}", "{%", "%}",
    "{{!", "{{! note }}", "}}", "{{", "@", "#file:", "\\`", "\\", "---\r\n", "\r---\r", "```py\r\n",
    "{% for a, b in\r\n items %}", "{% macro m(x) %}", "{% endmacro %}", "{{{ t }}}", "{{& u}}",
    "{{ v | upper }}", "${input:w:ph}", "````\n", "~~~~\r", "\r\n\r\n", "\r\r", "{#\n", "\n#}\n",
]
"""Also ``{% raw %}``, tags and comments across lines, lone ``\\r`` and CRLF everywhere."""
# fmt: on
