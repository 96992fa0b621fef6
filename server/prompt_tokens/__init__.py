"""prompt-tokens: exact, live LLM token counts for prompt documents and what they reference."""

__version__ = "0.1.0"
