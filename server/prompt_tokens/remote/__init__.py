"""Exact counts from the model vendors' token-counting APIs (Anthropic, Gemini), on demand.

``vendors``: the endpoints' shapes (pure); ``credentials``: keys and addresses, never shown;
``client``: one HTTP attempt under the URL-reference network rules (imported lazily);
``service``: caching, retries, the job queue and the "say it once" rule; ``documents``: the
CLI's ``--exact-remote`` over counted results.
"""
