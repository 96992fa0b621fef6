"""Which ``@name`` tokens can be a path to a file — so only those warn when the file is missing.

Real prompt files are full of ``@`` that is not a file: npm scopes (``@modelcontextprotocol/sdk``,
``@testing-library/react@16+``), decorators and annotations (``@pytest.mark.asyncio``,
``@SpringBootTest(...)``, ``@Override``), team handles (``@organization/team-name``), template
placeholders (``@<CONTEXT_DIR>/identity.md``, ``@{{reference-file}}``, ``@${x}``), import
aliases (``@/``), product names (``@Next.js 14``). Reporting those as "file not found" is noise;
silently dropping ``@docs/missing-guide.md`` would hide a real typo. The rule, in order:

1. A token the caller says exists (``exists(token)``) is a path — whatever it looks like, the
   agent will load it (Claude Code imports ``@README`` when ``README`` is there).
2. Placeholders, globs and quoted text are never paths: any of ``< > { } $ % * ? | ` " '`` or
   ``[`` (template or shell syntax, a pattern naming many files, or a quoted path, which
   Claude Code does not import either).
3. Calls and annotations with arguments are never paths: a ``(``.
4. Package specs are never paths: a second ``@`` followed by a version (``react@16+``,
   ``sdk@^1.2``, ``pkg@latest``) — but ``logo@2x.png`` ends in an extension and stays a file.
5. A token ending in ``/`` names a folder (``@/`` is the usual TypeScript alias), not a file.
6. An explicit relative or home path is a path: it starts with ``./``, ``../`` or ``~/``. Nobody
   writes a package or a handle like that. So is a dotfile name (``.env``, ``docs/.notes``).
7. An absolute path (``/…``) or a token with a ``/`` is a path only when its last segment has
   a file extension (``docs/guide.md``, ``/abs/file.md``). ``@org/team-name``,
   ``@fluentui/react`` and ``@/components/Button`` (an alias) have none. Both shapes are
   ``a/b``; the extension is what tells a file from a scope or a team.
8. A token without ``/`` is a path only when it ends in a common file extension
   (``notes.txt``, ``AI.MD``; ``KNOWN_EXTENSIONS``): ``app.post``, ``pytest.mark.asyncio`` and
   ``console.log`` end in identifiers, not extensions. ``Name.js`` with a capital first letter
   (``Next.js``, ``Node.js``, ``Vue.js``) is a product name, not a file. A bare word
   (``@README``, ``@Override``) is a path only by rule 1.

Measured on the corpus (``tests/unit/test_agents_plausible.py``, 2026-12-02): today's scanner
finds 31 ``@`` file references in ``/work/shared/corpus``, none naming an existing file, so 31
"not found" warnings; the filter drops 30 (25 distinct tokens) and keeps ``@AI.MD`` (a Cursor
rule's real reference to a file its repository did not ship).
"""

from __future__ import annotations

import re
from collections.abc import Callable

Exists = Callable[[str], bool]

_PLACEHOLDER_CHARS = frozenset("<>{}$%*?|`\"'[")
_VERSION = re.compile(r"(?:[~^<>=v]*\d|latest|next|canary|beta|alpha|x$)")
_EXTENSION = re.compile(r"[^./]\.([A-Za-z][A-Za-z0-9_+-]{0,15})$")
_DOTFILE = re.compile(r"\.[A-Za-z][A-Za-z0-9_.-]*")
_PRODUCT_JS = re.compile(r"[A-Z][A-Za-z0-9]*\.js")

# Extensions of files people attach to prompts: docs, data, config, code, templates, media.
# Left out on purpose, because code in prose ends in them more often than file names do:
# log (console.log), env (process.env), lock (mutex.lock), text (el.text), org (example.org),
# r and m (obj.r, self.m). With a folder (logs/app.log) any extension counts.
KNOWN_EXTENSIONS = frozenset(
    """
    md markdown mdx mdc txt rst adoc asciidoc tex rtf
    json jsonc json5 jsonl ndjson yaml yml toml ini cfg conf properties xml csv tsv
    html htm xhtml css scss sass less styl svg
    py pyi ipynb js mjs cjs jsx ts tsx mts cts vue svelte astro
    go rs java kt kts scala groovy gradle swift mm c h cc cpp cxx hpp hh hxx cs fs fsx vb
    rb php pl pm lua jl dart ex exs erl hrl hs ml mli clj cljs sql graphql gql proto
    sh bash zsh fish ps1 psm1 bat cmd mk cmake tf tfvars hcl nix dockerfile
    prompt prompty jinja jinja2 j2 hbs handlebars mustache liquid tmpl tpl
    pdf png jpg jpeg gif webp bmp ico tif tiff mp3 wav mp4 mov zip tar gz
    """.split()
)


def looks_like_path(token: str, exists: Exists | None = None) -> bool:
    """True when ``token`` (what follows ``@``, punctuation trimmed) can name a file.

    ``exists`` answers whether the token names an existing file (the caller resolves it against
    the document's folder and home); without it only the token's shape decides.
    """
    if not token or token.strip(".") == "":
        return False
    if exists is not None and exists(token):
        return True
    if _PLACEHOLDER_CHARS.intersection(token) or "(" in token:
        return False
    if "@" in token and _is_version(token.rsplit("@", 1)[1]):
        return False
    if token.endswith(("/", "\\")):
        return False
    norm = token.replace("\\", "/")
    if norm.startswith(("./", "../", "~/")):
        return True
    last = norm.rsplit("/", 1)[-1]
    if _DOTFILE.fullmatch(last):
        return True  # .env, .cursorrules, docs/.notes
    if "/" in norm:
        return _EXTENSION.search(last) is not None
    return _known_extension(last) and _PRODUCT_JS.fullmatch(last) is None


def _known_extension(name: str) -> bool:
    m = _EXTENSION.search(name)
    return m is not None and m.group(1).lower() in KNOWN_EXTENSIONS


def _is_version(text: str) -> bool:
    """``16+``, ``^1.2``, ``latest`` after a second ``@`` — but not ``2x.png`` (logo@2x.png)."""
    return _VERSION.match(text) is not None and "/" not in text and not _known_extension(text)
