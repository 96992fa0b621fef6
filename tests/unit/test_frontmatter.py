"""Front matter: model shapes (string, Prompty map, dotprompt provider/name), budgets,
variables from every source, errors that never stop counting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prompt_tokens.models import resolve_model
from prompt_tokens.references.frontmatter import FrontMatter, parse_front_matter
from prompt_tokens.references.variables import value_to_text
from tests.unit.shared_corpus import corpus_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_no_front_matter() -> None:
    assert parse_front_matter("# Title\n---\nmodel: x\n---\n") == FrontMatter()
    assert parse_front_matter("") == FrontMatter()


def test_model_string_with_span_and_budgets() -> None:
    text = "---\nmodel: gpt-4o\nencoding: o200k_base\nmax_tokens: 4000\nmax_output_tokens: 500\n---\nBody"
    fm = parse_front_matter(text)
    assert fm.model == "gpt-4o"
    assert fm.encoding == "o200k_base"
    assert (fm.max_tokens, fm.max_output_tokens) == (4000, 500)
    assert fm.end == text.index("Body")
    assert fm.error is None
    assert fm.model_span is not None
    assert (fm.model_span.line, fm.model_span.start, fm.model_span.end) == (1, 7, 13)
    assert text[fm.model_span.offset : fm.model_span.end_offset] == "gpt-4o"


def test_prompty_model_map() -> None:
    text = (EXAMPLES / "summarize.prompty").read_text()
    fm = parse_front_matter(text)
    assert fm.model == "gpt-4o-mini"
    assert fm.max_output_tokens == 300
    assert fm.max_tokens is None
    assert fm.variables["customer"] == "Jane Doe"
    assert fm.variables["thread"].startswith("Jane: The CSV import")
    assert fm.model_span is not None
    assert text[fm.model_span.offset : fm.model_span.end_offset] == "gpt-4o-mini"


def test_prompty_name_wins_over_deployment_and_top_level_reserve_wins() -> None:
    text = (
        "---\nmodel:\n  configuration:\n    type: openai\n    name: gpt-4.1\n"
        "    azure_deployment: my-deploy\n  parameters:\n    max_tokens: 100\n"
        "max_output_tokens: 700\n---\n"
    )
    fm = parse_front_matter(text)
    assert fm.model == "gpt-4.1"
    assert fm.max_output_tokens == 700


def test_dotprompt_provider_model_and_input_defaults() -> None:
    text = (
        "---\nmodel: googleai/gemini-1.5-pro\nconfig:\n  maxOutputTokens: 256\n"
        "input:\n  schema:\n    topic: string\n  default:\n    topic: tea\n    n: 3\n---\n"
        "Write about {{topic}}."
    )
    fm = parse_front_matter(text)
    assert fm.model == "googleai/gemini-1.5-pro"
    assert fm.max_output_tokens == 256
    assert fm.variables == {"topic": "tea", "n": "3"}


def test_variable_sources_priority_and_value_text() -> None:
    text = (
        "---\n"
        "variables:\n  a: from-variables\n  num: 42\n  flag: true\n  empty:\n"
        "  items: [1, two]\n  user: {name: Ada, langs: [py]}\n  day: 2024-01-02\n"
        "sample:\n  a: from-sample\n  b: from-sample\n"
        "input:\n  default:\n    a: from-input\n    b: from-input\n    c: from-input\n"
        "---\n"
    )
    fm = parse_front_matter(text)
    assert fm.error is None
    v = fm.variables
    assert (v["a"], v["b"], v["c"]) == ("from-variables", "from-sample", "from-input")
    assert (v["num"], v["flag"], v["empty"]) == ("42", "true", "")
    assert v["items"] == '[1, "two"]'
    assert v["user"] == '{"name": "Ada", "langs": ["py"]}'
    assert v["user.name"] == "Ada"
    assert v["user.langs"] == '["py"]'
    assert v["day"] == "2024-01-02"


def test_crlf_front_matter() -> None:
    text = "---\r\nmodel: gpt-4o\r\nvariables:\r\n  x: 'y'\r\n---\r\nBody\r\n"
    fm = parse_front_matter(text)
    assert (fm.model, fm.variables) == ("gpt-4o", {"x": "y"})
    assert fm.end == text.index("Body")


def test_bad_types_give_an_error_and_are_ignored() -> None:
    text = "---\nmodel: gpt-4o\nmax_tokens: abc\nmax_output_tokens: -5\nencoding: [x]\n---\n"
    fm = parse_front_matter(text)
    assert fm.model == "gpt-4o"
    assert fm.max_tokens is None and fm.max_output_tokens is None and fm.encoding is None
    assert fm.error is not None
    assert "max_tokens must be a whole number" in fm.error
    assert "max_output_tokens must be ≥ 0" in fm.error
    assert "encoding must be text" in fm.error
    assert fm.error_span is not None
    assert (fm.error_span.line, fm.error_span.start) == (2, 12)  # the value `abc`


def test_digit_strings_and_integral_floats_are_accepted() -> None:
    fm = parse_front_matter("---\nmax_tokens: '8000'\nmax_output_tokens: 100.0\n---\n")
    assert (fm.max_tokens, fm.max_output_tokens, fm.error) == (8000, 100, None)


def test_model_of_wrong_type() -> None:
    fm = parse_front_matter("---\nmodel: 4\n---\n")
    assert fm.model is None
    assert fm.error is not None and "model must be text" in fm.error


def test_invalid_yaml_reports_the_line_and_ignores_everything() -> None:
    text = "---\nmodel: gpt-4o\nmax_tokens: 100\nvariables: [unclosed\n---\nBody\n"
    fm = parse_front_matter(text)
    assert fm.model is None and fm.max_tokens is None and fm.variables == {}
    assert fm.end == text.index("Body")
    assert fm.error is not None and fm.error.startswith("Invalid front matter (line")
    assert fm.error_span is not None
    assert 3 <= fm.error_span.line <= 4


def test_invalid_yaml_tab_indent() -> None:
    text = "---\nmodel: x\n\tbad: 1\n---\n"
    fm = parse_front_matter(text)
    assert fm.error is not None
    assert fm.error_span is not None and fm.error_span.line == 2


def test_front_matter_that_is_not_a_map() -> None:
    fm = parse_front_matter("---\n- a\n- b\n---\n")
    assert fm.error is not None and "expected a map" in fm.error
    fm = parse_front_matter("---\n\n---\nBody")
    assert fm.error is None and fm.end == len("---\n\n---\n")


def test_non_map_variables() -> None:
    fm = parse_front_matter("---\nvariables: [a, b]\nsample: tests/sample.json\n---\n")
    assert fm.variables == {}
    assert fm.error is not None and "variables must be a map" in fm.error


# ------------------------------------------------------------------------------------------
# Model lists (VS Code agents), Prompty v2, inputs, and the real corpus
# ------------------------------------------------------------------------------------------


def test_model_list_means_the_first_known_entry() -> None:
    text = (
        "---\nmodel:\n  - Not A Model (copilot)\n  - Claude Sonnet 4.5 (copilot)\n  - GPT-5\n---\n"
    )
    fm = parse_front_matter(text)
    assert fm.error is None
    assert fm.model == "Claude Sonnet 4.5 (copilot)"
    assert fm.model_span is not None
    assert text[fm.model_span.offset : fm.model_span.end_offset] == fm.model
    unknown = parse_front_matter("---\nmodel: [house-model-1, house-model-2]\n---\n")
    assert (unknown.model, unknown.error) == ("house-model-1", None)
    bad = parse_front_matter("---\nmodel: [1, 2]\n---\n")
    assert bad.model is None and bad.error is not None and "model must be text" in bad.error


def test_prompty_v2_model_options_and_input_list() -> None:
    text = (
        "---\nmodel:\n  id: claude-sonnet-4-5-20250929\n  provider: anthropic\n"
        "  options:\n    maxOutputTokens: 512\n"
        "inputs:\n  - name: firstName\n    kind: string\n    default: Jane\n"
        "  - name: count\n    kind: integer\n    default: 3\n"
        "  - name: topic\n    example: tea\n  - name: question\n    required: true\n"
        "---\n{{firstName}}"
    )
    fm = parse_front_matter(text)
    assert fm.error is None
    assert fm.model == "claude-sonnet-4-5-20250929" and fm.max_output_tokens == 512
    assert fm.model_span is not None
    assert text[fm.model_span.offset : fm.model_span.end_offset] == fm.model
    assert fm.inputs == ["firstName", "count", "topic", "question"]
    assert fm.variables == {"firstName": "Jane", "count": "3", "topic": "tea"}


def test_prompty_v1_input_map_and_priorities() -> None:
    text = (
        "---\nmodel:\n  configuration:\n    azure_deployment: gpt-4o\n"
        "inputs:\n  question:\n    type: string\n    default: from-inputs\n"
        "  other:\n    type: string\n    default: from-inputs\n  bare: string\n"
        "sample:\n  question: from-sample\n---\n"
    )
    fm = parse_front_matter(text)
    assert fm.model == "gpt-4o"
    assert fm.inputs == ["question", "other", "bare"]
    assert fm.variables == {"question": "from-sample", "other": "from-inputs"}


def test_inputs_file_reference_and_bad_inputs() -> None:
    fm = parse_front_matter("---\ninputs: ${file:schema.json}\n---\n")
    assert (fm.inputs, fm.variables, fm.error) == ([], {}, None)
    bad = parse_front_matter("---\ninputs: 3\n---\n")
    assert bad.error is not None and "inputs must be" in bad.error


def _front_matter_files() -> list[Path]:
    files = [p for p in corpus_dir().rglob("*") if p.suffix in {".prompty", ".md", ".mdc"}]
    return sorted(p for p in files if p.read_text(encoding="utf-8").lstrip("\ufeff")[:3] == "---")


def _declared_model(data: dict[str, Any]) -> str | None:
    """What the file names, read independently of the parser under test."""
    model = data.get("model")
    if isinstance(model, str):
        return model
    if isinstance(model, dict):
        if isinstance(model.get("id"), str):
            return model["id"]
        conf = model.get("configuration")
        if isinstance(conf, dict):
            keys = ("name", "azure_deployment", "model")
            return next((conf[k] for k in keys if conf.get(k)), None)
    return None


# Not token-counted models, or placeholders: the table has no honest entry for them.
NOT_TEXT_MODELS = {"dall-e-3"}  # an image model: its prompt limit is 4,000 characters


def test_every_model_and_input_of_the_real_corpus_is_read() -> None:
    files = _front_matter_files()
    assert len(files) > 300
    models_seen: set[str] = set()
    inputs_seen = reserves = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        fm = parse_front_matter(text)
        try:
            raw = yaml.safe_load(text.lstrip("\ufeff").split("---", 2)[1])
        except yaml.YAMLError:  # Cursor rules write `globs: **/*`: invalid YAML, read as text
            assert fm.model is None and fm.error is None, path
            continue
        if not isinstance(raw, dict):
            continue
        declared = _declared_model(raw)
        assert fm.model == declared, path
        model = raw.get("model")
        options = model.get("options") if isinstance(model, dict) else None
        if isinstance(options, dict) and "maxOutputTokens" in options:
            reserves += 1
            assert fm.max_output_tokens == options["maxOutputTokens"], path
        if declared:
            models_seen.add(declared)
        inputs = raw.get("inputs")
        if isinstance(inputs, list):
            specs = {i["name"]: i for i in inputs}
        elif isinstance(inputs, dict):
            specs = inputs
        else:
            specs = {}
        assert fm.inputs == list(specs), path
        for name, spec in specs.items():
            inputs_seen += 1
            if isinstance(spec, dict) and spec.get("default") is not None:
                assert fm.variables[name] == value_to_text(spec["default"]) or name in (
                    raw.get("sample") or {}
                ), (path, name)
    assert {"gpt-4o", "gpt-4", "claude-sonnet-4-5-20250929", "gpt-4o-mini"} <= models_seen
    assert inputs_seen > 50 and reserves > 10
    unresolved = {
        m for m in models_seen - NOT_TEXT_MODELS if "<" not in m and resolve_model(m) is None
    }
    assert not unresolved, f"model names in the corpus the table does not know: {unresolved}"


def test_front_matter_agents_read_as_text_is_not_broken() -> None:
    """Real Cursor rules and Skills write front matter that is not strict YAML (``**/*`` is
    an alias to YAML, a second ``: `` a nested map); their agents read ``key: value`` lines,
    and so do we: no warning, the keys kept."""
    cursor = parse_front_matter(
        '---\ndescription: "TS rules"\nglobs: **/*.ts\nalwaysApply: false\n---\nBody\n'
    )
    assert cursor.error is None
    skill = parse_front_matter(
        "---\nname: release\ndescription: Cut a release: bump, tag.\nmodel: gpt-4o\n---\n"
    )
    assert skill.error is None and skill.model == "gpt-4o"
    broken = parse_front_matter("---\nmodel: [gpt-4o\n  {oops\n---\n")
    assert broken.error is not None  # not key: value lines either: still reported
