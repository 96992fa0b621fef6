"""How settings are read: cattrs converters for an attrs tree, and the messages for bad values.

Why two converters: the *strict* one (detailed validation, unknown keys forbidden) finds every
problem in one pass, and :func:`cattrs.transform_error` names each bad key; the *lenient* one
then builds the value, each setting that failed falling back to its own default so that the
good ones still apply (counting goes on, as in jedi-language-server). Constraints sit on the
fields as ``Annotated`` metadata (``Range``, ``OneOf``, ...), so a field's type, default and
limits are read in one place. Scalars are strict: ``true`` is not a number and ``"3"`` is not
a whole number, unlike cattrs' own ``int(value)``.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import AttributeValidationNote, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

DEFAULT_ENCODING = "cl100k_base"
"""The encoding of a document whose model and settings name none (also the model table's)."""
REFERENCE_KINDS = ("file", "url", "variable")
DIALECT_NAMES = (
    "claude-memory",
    "claude-rule",
    "copilot",
    "cursor-rule",
    "skill",
    "agents-md",
    "dotprompt",
    "jinja",
    "prompty",
    "markdown",
    "text",
)
"""The dialects a ``dialects`` override may name (``agents.dialects.DIALECTS``; a test keeps
the two equal — settings sit below the agents package, so they cannot import it)."""
MEMORY_CACHE = ":memory:"


class SettingError(ValueError):
    """A bad value; the message says what is expected (``must be a whole number``)."""


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# ---- constraints: Annotated metadata, each ``value -> value`` or SettingError ----------------


@attrs.frozen
class Range:
    """A number ``≥ lo`` (``> lo`` when ``open_lo``) and ``≤ hi``; None: unbounded."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False

    def __call__(self, value: float) -> float:
        low_ok = self.lo is None or (value > self.lo if self.open_lo else value >= self.lo)
        if low_ok and (self.hi is None or value <= self.hi):
            return value
        bounds = [] if self.lo is None else [f"{'>' if self.open_lo else '≥'} {self.lo}"]
        bounds += [] if self.hi is None else [f"≤ {self.hi}"]
        raise SettingError("must be " + " and ".join(bounds))


@attrs.frozen
class OneOf:
    choices: tuple[str, ...]

    def __call__(self, value: str) -> str:
        if value in self.choices:
            return value
        raise SettingError(f"must be one of {', '.join(self.choices)}")


@attrs.frozen
class Parse:
    """``fn(raw)`` builds the value instead of cattrs: for values of more than one shape."""

    fn: Callable[[Any], Any]


def unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def stripped(value: str) -> str:
    if not value.strip():
        raise SettingError("must be a non-empty string or null")
    return value.strip()


def network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise SettingError(f"'{value}' is not a network (e.g. 169.254.0.0/16)") from None
    return value


def markdown_links(value: Any) -> str | bool:
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    if value in ("true", "false"):
        return value == "true"
    raise SettingError('must be "auto", true or false')


def base_url(value: Any) -> str | None:
    """An API's address: ``http(s)://host[:port][/path]``, without a trailing ``/``; null: the
    environment's or the vendor's default."""
    if value is None:
        return None
    if isinstance(value, str):
        url = value.strip().rstrip("/")
        scheme, sep, rest = url.partition("://")
        if sep and scheme.lower() in ("http", "https") and rest and "@" not in rest.split("/")[0]:
            return url
    raise SettingError("must be an http(s) URL without credentials, e.g. https://api.example.com")


def cache_path(value: Any) -> str | None:
    if value is None or value == MEMORY_CACHE:
        return None
    if isinstance(value, str) and value.strip():
        return os.path.expanduser(value.strip())
    raise SettingError(f'must be a file path, "{MEMORY_CACHE}" or null')


# ---- scalar and container hooks ------------------------------------------------------------


def _bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingError("must be true or false")


def _int(value: Any, _type: Any) -> int:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise SettingError("must be a whole number")
    return int(value)


def _float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingError("must be a number")
    return float(value)


def _str(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    raise SettingError("must be text")


def _text_map(value: Any, _type: Any) -> dict[str, str]:
    """name → text; numbers and booleans are taken as their text (``n = 3`` in TOML)."""
    if not isinstance(value, Mapping):
        raise SettingError("must be an object of name → text")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise SettingError(f"value of '{key}' must be text")
        out[str(key)] = item if isinstance(item, str) else str(item)
    return out


def _annotated(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    base, *meta = typing.get_args(type_)
    parse = next((m.fn for m in meta if isinstance(m, Parse)), None)
    checks = [m for m in meta if not isinstance(m, Parse)]
    if parse is None:
        base_hook = conv.get_structure_hook(base)

        def parse(value: Any) -> Any:
            return base_hook(value, base)

    def structure(value: Any, _type: Any) -> Any:
        value = parse(value)
        for check in checks:
            value = check(value)
        return value

    return structure


def _list(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    items = list_structure_factory(type_, conv)

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, list):  # cattrs would take a string as a list of characters
            raise SettingError("must be a list")
        return items(value, type_)

    return structure


def _default_of(field: attrs.Attribute[Any]) -> Any:
    factory = getattr(field.default, "factory", None)  # attrs.Factory(...)
    return factory() if callable(factory) else field.default


def _table(cls: type, conv: cattrs.Converter, *, lenient: bool) -> Callable[[Any, Any], Any]:
    """A table (attrs class) from a mapping with camelCase (or snake_case) keys.

    ``lenient``: a field whose value fails gets its default instead (the strict converter has
    already reported it), and unknown keys are ignored.
    """
    fields = attrs.fields(attrs.resolve_types(cls))
    snake = {f.name: to_camel(f.name) for f in fields if to_camel(f.name) != f.name}
    overrides: dict[str, Any] = {
        f.name: override(
            rename=to_camel(f.name),
            struct_hook=_or_default(conv.get_structure_hook(f.type), f) if lenient else None,
        )
        for f in fields
    }
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=not lenient, **overrides
    )

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, Mapping):
            raise SettingError("must be an object")
        table = dict(value)
        for name, camel in snake.items():  # the camelCase spelling wins when both are given
            if name in table:
                table.setdefault(camel, table.pop(name))
        return inner(table, cls)

    return structure


def _or_default(
    hook: Callable[[Any, Any], Any], field: attrs.Attribute[Any]
) -> Callable[[Any, Any], Any]:
    def structure(value: Any, type_: Any) -> Any:
        try:
            return hook(value, type_)
        except Exception:
            return _default_of(field)

    return structure


def _converter(sections: tuple[type, ...], *, lenient: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=not lenient)
    for scalar, hook in ((bool, _bool), (int, _int), (float, _float), (str, _str)):
        conv.register_structure_hook(scalar, hook)
    conv.register_structure_hook_func(lambda t: t == dict[str, str], _text_map)
    conv.register_structure_hook_factory(lambda t: typing.get_origin(t) is Annotated, _annotated)
    conv.register_structure_hook_factory(lambda t: typing.get_origin(t) is list, _list)
    conv.register_structure_hook_factory(attrs.has, lambda cls, c: _table(cls, c, lenient=False))
    if lenient:  # registered last, so it wins for the sections (rule lists stay strict)
        conv.register_structure_hook_factory(
            lambda t: t in sections, lambda cls, c: _table(cls, c, lenient=True)
        )
    conv.register_unstructure_hook_factory(attrs.has, lambda cls: _json_table(cls, conv))
    return conv


def _json_table(cls: type, conv: cattrs.Converter) -> Callable[[Any], dict[str, Any]]:
    """A table (attrs class) to a camelCase dict: the shape the user writes."""
    renames: dict[str, Any] = {
        f.name: override(rename=to_camel(f.name)) for f in attrs.fields(attrs.resolve_types(cls))
    }
    return make_dict_unstructure_fn(cls, conv, **renames)


def _camel_notes(exc: BaseException) -> None:
    """Name fields in the error tree as the user wrote them (``warningRatio``)."""
    notes = getattr(exc, "__notes__", None)
    if notes:
        exc.__notes__ = [
            AttributeValidationNote(n, to_camel(n.name), n.type)
            if isinstance(n, AttributeValidationNote)
            else n
            for n in notes
        ]
    for sub in getattr(exc, "exceptions", ()):
        _camel_notes(sub)


class SettingsSchema:
    """Structuring of one settings tree (``root``, whose tables ``sections`` fall back per field)."""

    def __init__(self, root: type, *, sections: tuple[type, ...]) -> None:
        self.root = root
        self._strict = _converter(sections, lenient=False)
        self._lenient = _converter(sections, lenient=True)

    def structure(self, raw: Mapping[str, Any], section: str) -> tuple[Any, list[str]]:
        """The value and one message per bad key (prefixed with ``section``)."""
        try:
            return self._strict.structure(raw, self.root), []
        except cattrs.BaseValidationError as exc:
            problems = self._messages(exc, section)
        return self._lenient.structure(raw, self.root), problems

    def unstructure(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = self._strict.unstructure(value)
        return out

    def _messages(self, exc: cattrs.BaseValidationError, section: str) -> list[str]:
        # transform_error walks the error tree and builds each path; the formatter hands back
        # an index, so neither reason nor path (which holds user-written keys) is ever parsed
        # back out of its "reason @ path" lines.
        _camel_notes(exc)
        seen: list[tuple[BaseException, Any]] = []

        def remember(err: BaseException, type_: Any) -> str:
            seen.append((err, type_))
            return str(len(seen) - 1)

        defaults = self._strict.unstructure(self.root())
        out: list[str] = []
        for line in cattrs.transform_error(exc, path=section, format_exception=remember):
            index, _, path = line.partition(" @ ")
            err, type_ = seen[int(index)]
            out += map(_one_line, _describe(err, type_, path, path[len(section) + 1 :], defaults))
        return out


def _one_line(message: str) -> str:
    """A message names user-written keys; a line break in one must not split the message."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in message)


def _describe(err: BaseException, type_: Any, path: str, key: str, defaults: Any) -> list[str]:
    """``path: reason; using the default (…)`` (one line per unknown key)."""
    if isinstance(err, ForbiddenExtraKeysError):
        return [f"{path}.{k}: unknown setting, ignored" for k in sorted(map(str, err.extra_fields))]
    if isinstance(err, SettingError):
        reason = str(err)
    elif isinstance(err, KeyError):
        reason = "is required"
    else:
        reason = format_exception(err, type_)
    setting = key.split("[", 1)[0]  # a bad list item or map value: the whole setting
    where = "" if setting == key else f" for {setting}"
    default = defaults
    for part in setting.split(".") if setting else ():
        default = default.get(part) if isinstance(default, dict) else None
    shown = json.dumps(default, ensure_ascii=False)
    return [f"{path}: {reason}; using the default{where} ({shown})"]
