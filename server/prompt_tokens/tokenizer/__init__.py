"""Exact tokenization: every exact tokenizer by name (``encodings.get_encoding``: bundled OpenAI
encodings and the open-weights ones of ``openweights``), safe block boundaries per tokenizer,
block, stream and parallel counting."""
