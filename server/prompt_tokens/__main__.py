"""Allow ``python -m prompt_tokens``."""

from prompt_tokens.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
