"""Load a prompt document from disk for the CLI, skipping work the cache already did.

A warm re-run of ``prompt-tokens check`` over a big repository should not re-read or re-encode
unchanged prompts. The file's fingerprint (path, size, mtime_ns, inode) gives its sha256, which
gives its token count; the number of references found in that content is cached too, so a
file without references is not even read past its front matter. Only hashes and numbers go
into the cache, never text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection

import attrs

from prompt_tokens.cache.tiered import TieredCache
from prompt_tokens.errors import NotFoundError
from prompt_tokens.results import Occurrence
from prompt_tokens.tokenizer.counter import count_text_parallel
from prompt_tokens.tokenizer.textio import StreamDecoder, decode_bytes

HEAD_BYTES = 64 * 1024  # front matter lives at the very top


@attrs.define
class LoadedDocument:
    text: str  # the whole text, or only its head when nothing else was needed
    text_tokens: int
    occurrences: list[Occurrence] | None  # None: not scanned (references off)


def refs_key(kinds: Collection[str], markdown_links: bool) -> str:
    """Pseudo-encoding under which the number of references in some content is cached."""
    return f"doc-refs-v1:{','.join(sorted(kinds))}:{'md' if markdown_links else 'plain'}"


def load_document(
    path: str,
    cache: TieredCache,
    *,
    encoding_for: Callable[[str], str],
    scan: Callable[[str], list[Occurrence]] | None,
    scan_key: str = "",
) -> LoadedDocument:
    """Read, count and scan ``path`` — or as little of it as the cache allows.

    ``encoding_for(head_text)`` returns the document's encoding (front matter may choose it);
    ``scan(text)`` finds its references, or is None when references are off; ``scan_key``
    names the scanner's settings (see :func:`refs_key`) for the cached reference count.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFoundError("no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise NotFoundError("is a folder")
    with open(path, "rb") as fh:
        head_dec = StreamDecoder(label="the file")
        head = head_dec.feed(fh.read(HEAD_BYTES))
        encoding = encoding_for(head)
        sha = cache.get_fingerprint(path, st.st_size, st.st_mtime_ns, st.st_ino)
        if sha is not None:
            tokens, _ = cache.lookup_count(encoding, sha)
            n_refs = cache.get_count(scan_key, sha) if scan is not None else 0
            if tokens is not None and n_refs == 0:
                return LoadedDocument(head, tokens, [] if scan else None)
        fh.seek(0)
        data = fh.read()
        after = os.fstat(fh.fileno())
    text, stats = decode_bytes(data, label="the file")
    tokens, _ = cache.lookup_count(encoding, stats.sha256)
    if tokens is None:
        tokens = count_text_parallel(text, encoding)
        cache.put_count(encoding, stats.sha256, tokens, stats.size)
    if (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino):
        cache.put_fingerprint(path, st.st_size, st.st_mtime_ns, st.st_ino, stats.sha256)
    occurrences = None
    if scan is not None:
        occurrences = scan(text)
        cache.put_count(scan_key, stats.sha256, len(occurrences), stats.size)
    return LoadedDocument(text, tokens, occurrences)
