"""The CI gate: per-glob budgets, deltas against a git base, and report formats.

Pure modules (no I/O but ``gitbase``, which runs ``git``, and ``formats.write_step_summary``),
so ``prompt-tokens check`` composes them: parse budgets from the raw settings file, count the
work tree and the base, evaluate, build a ``CheckReport``, render it.
"""
