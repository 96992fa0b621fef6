"""References: what a prompt pulls in (files, URLs, template variables), found and counted.

- ``syntax``: the scanner (every syntax in SPEC's table, exact UTF-16 spans).
- ``frontmatter``: YAML front matter (model, encoding, budgets, variables).
- ``files``: local files (workspace boundary, size/binary checks, fingerprint → hash → count).
- ``http``: URL / API endpoints (TTL, revalidation, retries, coalescing), with ``addresses``
  (blocked networks, pinned connections), ``charset`` (body → text) and ``fetched`` (results).
- ``variables``: variable values, value hashes, change detection.
- ``graph``: document → targets with a reverse index (who must be recounted).
- ``resolver``: ``ReferenceResolver``, which ties them together for a document: ``leaves``
  starts the work ahead, ``walk`` assembles the results in order, ``outcome`` fills them;
  ``inflight`` shares work in progress between callers.
"""
