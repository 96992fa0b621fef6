"""YAML front matter: the per-document model, encoding, budgets and variables.

The block is YAML between ``---`` lines at the very top (``...`` also closes it; CRLF and a
leading BOM are fine). Keys read (others are ignored):

- ``model``: a string (``gpt-4o``; dotprompt's ``provider/name`` is kept as written, the model
  table strips the provider); a list of strings (VS Code agent files: the first entry the model
  table knows, else the first entry); Prompty v2's map ``{id, provider, options:
  {maxOutputTokens}}``; or Prompty v1's ``{configuration: {name | azure_deployment}}``, whose
  ``parameters.max_tokens`` is the answer's reserve when ``max_output_tokens`` is absent.
- ``encoding``: text (validated by the engine).
- ``max_tokens`` (the budget, ≥ 1) and ``max_output_tokens`` (≥ 0): whole numbers; digit strings
  are accepted. dotprompt's ``config.maxOutputTokens`` also sets the reserve.
- variables, highest priority first: ``variables:``, Prompty ``sample:``, Prompty ``inputs``
  defaults (v2: a list of ``{name, default}``; v1: a map ``name: {default}``; an input with no
  default takes its ``example``), dotprompt ``input.default``. Every declared Prompty input is
  listed in ``inputs`` whether or not it has a value. Values become text: strings as written, numbers/booleans/null as JSON
  (``3``, ``true``, ``""`` for null), lists and maps as compact JSON. Maps are ALSO flattened
  to dotted names, so ``variables: {user: {name: Ada}}`` defines ``user`` (JSON) and
  ``user.name`` (``Ada``) for ``{{ user.name }}``.

Nothing here raises on user input. A wrongly typed value gives ``error`` (+ ``error_span`` on
the value) and that field is ignored; invalid YAML gives ``error`` on the offending line and no
fields at all (``end`` still marks the block so counting goes on).
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import yaml

from prompt_tokens.models import first_known
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
    inputs: list[str] = attrs.field(factory=list)  # names Prompty ``inputs`` declares
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


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# Prompty v1 ``model.configuration`` keys that name the model, best first.
CONFIG_NAME_KEYS = ("name", "azure_deployment", "model")


def _read_model(
    data: dict[Any, Any], root: yaml.Node | None, problems: _Problems, fm: FrontMatter
) -> Any:
    """Set ``fm.model``/``model_span``; return Prompty v1 ``parameters`` (for the reserve)."""
    model = data.get("model")
    node = _child(root, "model")
    if _text(model):
        fm.model, fm.model_span = _text(model), problems.node_span(node)
    elif isinstance(model, list) and model and all(_text(m) for m in model):
        names = [str(_text(m)) for m in model]
        fm.model = first_known(names)
        items = node.value if isinstance(node, yaml.SequenceNode) else []
        at = names.index(fm.model) if fm.model in names else 0
        fm.model_span = problems.node_span(items[at] if at < len(items) else node)
    elif isinstance(model, dict):
        conf = model.get("configuration")
        candidates: list[tuple[Any, yaml.Node | None, str]] = [(model, node, "id")]
        candidates += [(conf, _child(node, "configuration"), k) for k in CONFIG_NAME_KEYS]
        for holder, holder_node, key in candidates:
            if isinstance(holder, dict) and _text(holder.get(key)):
                fm.model = _text(holder[key])
                fm.model_span = problems.node_span(_child(holder_node, key))
                break
        return model.get("parameters")
    elif model is not None:
        problems.add(f"front matter: model must be text (got {model!r}); ignored", node)
    return None


def _reserve(
    data: dict[Any, Any], root: yaml.Node | None, params: Any, problems: _Problems
) -> int | None:
    """The answer's reserve from the tools' own keys, when ``max_output_tokens`` is absent:
    Prompty v1 ``model.parameters.max_tokens``, Prompty v2 ``model.options.maxOutputTokens``,
    dotprompt ``config.maxOutputTokens``."""
    model = data.get("model")
    model_node = _child(root, "model")
    options = model.get("options") if isinstance(model, dict) else None
    sources = [
        (params, _child(model_node, "parameters"), "max_tokens", "model.parameters"),
        (options, _child(model_node, "options"), "maxOutputTokens", "model.options"),
        (data.get("config"), _child(root, "config"), "maxOutputTokens", "config"),
    ]
    for holder, holder_node, key, label in sources:
        if isinstance(holder, dict) and holder.get(key) is not None:
            node = _child(holder_node, key)
            return _whole(holder[key], f"{label}.{key}", 0, problems, node)
    return None


def _prompty_inputs(
    value: Any, node: yaml.Node | None, problems: _Problems
) -> tuple[list[str], dict[str, Any]]:
    """Prompty ``inputs``: (every declared name, name → value for those with a default or an
    example). v2 writes a list of ``{name, kind, default}``, v1 a map ``name: {type, default}``;
    a string (``${file:schema.json}``) is a reference this parser does not follow."""
    if value is None or isinstance(value, str):
        return [], {}
    if isinstance(value, list):
        specs = [(v.get("name"), v) for v in value if isinstance(v, dict)]
    elif isinstance(value, dict):
        specs = list(value.items())
    else:
        problems.add("front matter: inputs must be a list or a map of inputs; ignored", node)
        return [], {}
    names: list[str] = []
    values: dict[str, Any] = {}
    for name, spec in specs:
        if not isinstance(name, str) or not name.strip():
            continue
        names.append(name.strip())
        if isinstance(spec, dict):
            for key in ("default", "example"):
                if spec.get(key) is not None:
                    values[name.strip()] = spec[key]
                    break
    return names, values


_SIMPLE_KEY = re.compile(r"([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_SIMPLE_ITEM = re.compile(r"[ \t]+-[ \t]+(.*?)[ \t]*$")


def _simple_scalar(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    return int(raw) if raw.isdigit() else raw


def simple_front_matter(source: str) -> dict[str, Any] | None:
    """``key: value`` lines (and ``  - item`` lists under a key) read the way agents read
    their own front matter, or None when ``source`` has any other line.

    Real Cursor rules write ``globs: **/*.ts`` and Skills ``description: Do X: then Y``:
    invalid YAML (``*`` starts an alias, a second ``: `` a mapping) that Cursor, Claude Code and
    VS Code read as text. Strict YAML is tried first; this is the fallback, so a file its agent
    reads fine is not reported as broken."""
    data: dict[str, Any] = {}
    last: str | None = None
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if (m := _SIMPLE_KEY.fullmatch(line)) is not None:
            if (m.group(2) or "")[:1] in ("[", "{", "|", ">", "&", "!"):
                return None  # YAML syntax, broken: not text an agent reads as it stands
            last = m.group(1)
            data[last] = _simple_scalar(m.group(2)) if m.group(2) else None
        elif (item := _SIMPLE_ITEM.fullmatch(line)) is not None and last is not None:
            current = data[last]
            items = current if isinstance(current, list) else []
            items.append(_simple_scalar(item.group(1)))
            data[last] = items
        else:
            return None
    return data


_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(loader_class: type[yaml.SafeLoader], source: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(source)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()


def _compose(source: str) -> tuple[yaml.Node | None, Any]:
    """The YAML's node tree and value, with libyaml (~9× faster) where it is certain to agree.

    The pure-Python loader stays the one that decides: it gives every error (its messages and
    marks are the ones users see) and parses text that is not ASCII (libyaml's marks count
    bytes there, the spans need characters). On ASCII text both read the same YAML
    (``tests/unit/test_frontmatter_loaders.py`` checks it on every corpus file and generated
    front matter)."""
    if _FAST_LOADER is not yaml.SafeLoader and source.isascii():
        try:
            return _load(_FAST_LOADER, source)
        except yaml.YAMLError:
            pass  # the pure loader words the error (or reads what libyaml refused)
    return _load(yaml.SafeLoader, source)


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
        root, data = _compose(source)
    except yaml.YAMLError as exc:
        data, root = simple_front_matter(source), None
        if data is None:
            return _yaml_error(fm, exc, index, first_line)
    if data is None:
        return fm
    if not isinstance(data, dict):
        fm.error = "Invalid front matter: expected a map of keys (model, max_tokens, …); ignored"
        fm.error_span = index.line_span(first_line)
        return fm
    return _read(fm, data, root, problems, index.line_span(first_line))


def _yaml_error(
    fm: FrontMatter, exc: yaml.YAMLError, index: LineIndex, first_line: int
) -> FrontMatter:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark is not None else 0)
        problem = exc.problem or exc.context or "invalid YAML"
        fm.error = f"Invalid front matter (line {line + 1}): {problem}; front matter ignored"
        fm.error_span = index.line_span(line)
        return fm
    fm.error = f"Invalid front matter: {exc}; front matter ignored"
    fm.error_span = index.line_span(first_line - 1)
    return fm


def _read(
    fm: FrontMatter,
    data: dict[Any, Any],
    root: yaml.Node | None,
    problems: _Problems,
    first_span: Span,
) -> FrontMatter:
    params = _read_model(data, root, problems, fm)

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
        fm.max_output_tokens = _reserve(data, root, params, problems)

    # variables: lowest priority first, so higher sources overwrite.
    merged: dict[str, str] = {}
    inputs_node = _child(root, "inputs")
    fm.inputs, declared = _prompty_inputs(data.get("inputs"), inputs_node, problems)
    inp = data.get("input")
    if isinstance(inp, dict) and inp.get("default") is not None:
        merged.update(
            _variables_from(
                inp["default"], "input.default", problems, _child(_child(root, "input"), "default")
            )
        )
    for name, value in declared.items():
        _flatten(name, value, merged)
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
        fm.error_span = items[0][2] or first_span
    return fm
