"""YAML front matter: the per-document model, encoding, budgets and variables.

The block is YAML between ``---`` lines at the very top (``...`` also closes it; CRLF and a
leading BOM are fine). Keys read (others are ignored):

- ``model``: a string (``gpt-4o``; dotprompt's ``provider/name`` is kept as written, the model
  table strips the provider), or Prompty's map ``{configuration: {name | azure_deployment}}``,
  whose ``parameters.max_tokens`` is the answer's reserve when ``max_output_tokens`` is absent.
- ``encoding``: text (validated by the engine).
- ``max_tokens`` (the budget, ≥ 1) and ``max_output_tokens`` (≥ 0): whole numbers; digit strings
  are accepted. dotprompt's ``config.maxOutputTokens`` also sets the reserve.
- variables, highest priority first: ``variables:``, Prompty ``sample:``, dotprompt
  ``input.default``. Values become text: strings as written, numbers/booleans/null as JSON
  (``3``, ``true``, ``""`` for null), lists and maps as compact JSON. Maps are ALSO flattened
  to dotted names, so ``variables: {user: {name: Ada}}`` defines ``user`` (JSON) and
  ``user.name`` (``Ada``) for ``{{ user.name }}``.

Nothing here raises on user input. A wrongly typed value gives ``error`` (+ ``error_span`` on
the value) and that field is ignored; invalid YAML gives ``error`` on the offending line and no
fields at all (``end`` still marks the block so counting goes on).
"""

from __future__ import annotations

from typing import Any

import attrs
import yaml

from prompt_tokens.references.syntax import LineIndex, front_matter_bounds
from prompt_tokens.references.variables import value_to_text
from prompt_tokens.results import Span


@attrs.define
class FrontMatter:
    model: str | None = None
    model_span: Span | None = None
    encoding: str | None = None
    max_tokens: int | None = None
    max_output_tokens: int | None = None
    variables: dict[str, str] = attrs.field(factory=dict)
    end: int = 0  # char offset just after the closing ``---`` line; 0 when there is none
    error: str | None = None
    error_span: Span | None = None


class _Problems:
    def __init__(self, index: LineIndex, base: int) -> None:
        self.index = index
        self.base = base
        self.items: list[tuple[int, str, Span | None]] = []

    def node_span(self, node: yaml.Node | None) -> Span | None:
        if node is None:
            return None
        return self.index.span(self.base + node.start_mark.index, self.base + node.end_mark.index)

    def add(self, message: str, node: yaml.Node | None) -> None:
        span = self.node_span(node)
        self.items.append((span.offset if span else 1 << 62, message, span))

    def sorted(self) -> list[tuple[int, str, Span | None]]:
        """In document order, so ``error_span`` is the first problem the user sees."""
        return sorted(self.items, key=lambda t: t[0])


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node (last one wins, like safe_load)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    found = None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found = v
    return found


def _whole(
    value: Any, name: str, lo: int, problems: _Problems, node: yaml.Node | None
) -> int | None:
    v = value
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v.strip())
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        problems.add(f"front matter: {name} must be a whole number (got {value!r}); ignored", node)
        return None
    if v < lo:
        problems.add(f"front matter: {name} must be ≥ {lo} (got {v}); ignored", node)
        return None
    return v


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    out[prefix] = value_to_text(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)


def _variables_from(
    value: Any, name: str, problems: _Problems, node: yaml.Node | None
) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"front matter: {name} must be a map of name → value; ignored", node)
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        _flatten(str(k), v, out)
    return out


def parse_front_matter(text: str) -> FrontMatter:
    bounds = front_matter_bounds(text)
    if bounds is None:
        return FrontMatter()
    yaml_start, yaml_end, end = bounds
    fm = FrontMatter(end=end)
    source = text[yaml_start:yaml_end]
    index = LineIndex(text)
    problems = _Problems(index, yaml_start)
    first_line = index.position(yaml_start)[0]
    if not source.strip():
        return fm
    try:
        loader = yaml.SafeLoader(source)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark is not None else 0)
        problem = exc.problem or exc.context or "invalid YAML"
        fm.error = f"Invalid front matter (line {line + 1}): {problem}; front matter ignored"
        fm.error_span = index.line_span(line)
        return fm
    except yaml.YAMLError as exc:
        fm.error = f"Invalid front matter: {exc}; front matter ignored"
        fm.error_span = index.line_span(first_line - 1)
        return fm
    if data is None:
        return fm
    if not isinstance(data, dict):
        fm.error = "Invalid front matter: expected a map of keys (model, max_tokens, …); ignored"
        fm.error_span = index.line_span(first_line)
        return fm

    # model
    model = data.get("model")
    model_node = _child(root, "model")
    params: Any = None
    if isinstance(model, str) and model.strip():
        fm.model = model.strip()
        fm.model_span = problems.node_span(model_node)
    elif isinstance(model, dict):
        conf = model.get("configuration")
        conf_node = _child(model_node, "configuration")
        for key in ("name", "azure_deployment", "model"):
            if isinstance(conf, dict) and isinstance(conf.get(key), str) and conf[key].strip():
                fm.model = conf[key].strip()
                fm.model_span = problems.node_span(_child(conf_node, key))
                break
        params = model.get("parameters")
    elif model is not None:
        problems.add(f"front matter: model must be text (got {model!r}); ignored", model_node)

    enc = data.get("encoding")
    if isinstance(enc, str) and enc.strip():
        fm.encoding = enc.strip()
    elif enc is not None:
        problems.add(
            f"front matter: encoding must be text (got {enc!r}); ignored", _child(root, "encoding")
        )

    if data.get("max_tokens") is not None:
        fm.max_tokens = _whole(
            data["max_tokens"], "max_tokens", 1, problems, _child(root, "max_tokens")
        )
    if data.get("max_output_tokens") is not None:
        fm.max_output_tokens = _whole(
            data["max_output_tokens"],
            "max_output_tokens",
            0,
            problems,
            _child(root, "max_output_tokens"),
        )
    if fm.max_output_tokens is None:
        if isinstance(params, dict) and params.get("max_tokens") is not None:
            node = _child(_child(model_node, "parameters"), "max_tokens")
            fm.max_output_tokens = _whole(
                params["max_tokens"], "model.parameters.max_tokens", 0, problems, node
            )
        config = data.get("config")
        if fm.max_output_tokens is None and isinstance(config, dict):
            if config.get("maxOutputTokens") is not None:
                node = _child(_child(root, "config"), "maxOutputTokens")
                fm.max_output_tokens = _whole(
                    config["maxOutputTokens"], "config.maxOutputTokens", 0, problems, node
                )

    # variables: lowest priority first, so higher sources overwrite.
    merged: dict[str, str] = {}
    inp = data.get("input")
    if isinstance(inp, dict) and inp.get("default") is not None:
        merged.update(
            _variables_from(
                inp["default"], "input.default", problems, _child(_child(root, "input"), "default")
            )
        )
    sample = data.get("sample")
    if isinstance(sample, dict):
        merged.update(_variables_from(sample, "sample", problems, _child(root, "sample")))
    if data.get("variables") is not None:
        merged.update(
            _variables_from(data["variables"], "variables", problems, _child(root, "variables"))
        )
    fm.variables = merged

    if problems.items:
        items = problems.sorted()
        fm.error = "; ".join(msg for _, msg, _ in items)
        fm.error_span = items[0][2] or index.line_span(first_line)
    return fm
