"""Text structure, the one home of its rules: line ends, columns, front matter, fences, code
spans and headings.

Pure functions over ``str``; nothing here knows about tokens, references or editors. The
document model (``document``), the engine's sections (``engine``) and the reference scanner
(``references``) all read structure through this package, so a rule (say, which line ends
count) is written once.

- ``lines``: LSP line ends (``\\n``, ``\\r\\n`` and a lone ``\\r``, nothing else), UTF-16 /
  UTF-8 / UTF-32 column units, offset ↔ position.
- ``markdown``: the YAML front-matter boundary, heading lines and the section rule.
- ``code``: fenced code blocks and inline code spans (what is not prose).
"""
