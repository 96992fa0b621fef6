"""A document's configuration without parsing its YAML front matter again on a warm run.

Most prompt files carry front matter (``description:``, ``globs:``, ``name:``) that changes
nothing the engine reads: no ``model``, ``encoding``, ``max_tokens``, ``max_output_tokens``,
variables, and no YAML error. For such a document the configuration is the settings' own, the
same as for a document without front matter, whatever the settings are. The cache remembers
that verdict under the sha256 of the file's content (the key a run prefetches for all its files
at once, and the content determines its front matter), so the next run skips the YAML parser
for it. Front matter that does change something is parsed every time. The verdict does not
depend on the settings, so the key needs no settings fingerprint: the settings themselves are
applied fresh on every configure.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.engine import DocConfig
from prompt_tokens.references.frontmatter import FrontMatter, parse_front_matter
from prompt_tokens.text.markdown import front_matter_open

NEUTRAL_KEY = "doc-config-v1:neutral"
"""Pseudo-encoding: count 1 under a content's sha256 = its front matter configures nothing."""

Configure = Callable[[str, FrontMatter | None], DocConfig]


def is_neutral(fm: FrontMatter) -> bool:
    """The front matter sets nothing ``PromptEngine.configure`` reads."""
    return (
        fm.model is None
        and fm.encoding is None
        and fm.max_tokens is None
        and fm.max_output_tokens is None
        and not fm.variables
        and fm.error is None
    )


class CachedConfigure:
    """``encoding_for`` for ``doc_loader.load_document`` that keeps the whole configuration
    (``config``) and parses front matter only when the cache does not know it is neutral.

    The parsed verdict is recorded by :meth:`record` once the content's sha256 is known."""

    def __init__(self, configure: Configure, cache: TieredCache) -> None:
        self._configure = configure
        self._cache = cache
        self._verdict: int | None = None
        self.config: DocConfig | None = None
        self.parsed = 0  # YAML parses done (a warm run does none for neutral front matter)

    def __call__(self, head: str, sha256: str | None) -> str:
        self._verdict = None
        if front_matter_open(head) is None:
            self.config = self._configure(head, FrontMatter())
        elif sha256 is not None and self._cache.get_count(NEUTRAL_KEY, sha256) == 1:
            self.config = self._configure(head, FrontMatter())
        else:
            fm = parse_front_matter(head)
            self.parsed += 1
            self._verdict = 1 if is_neutral(fm) else 0
            self.config = self._configure(head, fm)
        return self.config.encoding

    def record(self, sha256: str) -> None:
        """Remember the verdict of the last parse for the content ``sha256``."""
        if self._verdict is not None and sha256:
            self._cache.put_count(NEUTRAL_KEY, sha256, self._verdict, 0)
