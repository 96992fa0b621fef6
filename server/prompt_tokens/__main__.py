"""Allow ``python -m prompt_tokens``."""

from prompt_tokens.cli import entry

if __name__ == "__main__":
    entry()
