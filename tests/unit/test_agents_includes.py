"""Template includes as file references: dotprompt partials, Jinja includes, Prompty ${file:}."""

from __future__ import annotations

from pathlib import Path

from prompt_tokens.agents.includes import partial_path, scan_includes
from prompt_tokens.results import Occurrence

CORPUS = Path("/work/shared/corpus")


def found(text: str, dialect: str) -> list[tuple[str, str]]:
    return [(o.syntax, o.target) for o in scan_includes(text, dialect)]  # type: ignore[arg-type]


def covered(text: str, occ: Occurrence) -> str:
    return text[occ.span.offset : occ.span.end_offset]


def test_dotprompt_partials_name_underscore_files() -> None:
    text = (
        "---\nmodel: x\n---\n{{> header}}\nHi {{name}}\n{{>footer this}}\n{{~> sub/part key=1 ~}}\n"
    )
    assert found(text, "dotprompt") == [
        ("partial", "_header.prompt"),
        ("partial", "_footer.prompt"),
        ("partial", "sub/_part.prompt"),
    ]
    assert partial_path("a/b/c") == "a/b/_c.prompt"


def test_spans_cover_the_include_as_written() -> None:
    text = "x\n  {{> header}} y\n{% include 'b.j2' %}"
    occ = scan_includes(text, "dotprompt")[0]
    assert covered(text, occ) == "{{> header}}" == occ.raw
    assert (occ.span.line, occ.span.start, occ.span.end) == (1, 2, 14)
    inc = scan_includes(text, "jinja")[0]
    assert covered(text, inc) == "{% include 'b.j2' %}"


def test_jinja_include_import_from_extends() -> None:
    text = (
        '{% extends "base.j2" %}\n'
        "{%- include 'parts/a.jinja' ignore missing -%}\n"
        '{% import "macros.j2" as m %}\n'
        "{% from 'forms.j2' import field %}\n"
        '{% include ["first.j2", "second.j2"] %}\n'
        "{% include name_var %}\n"
    )
    assert found(text, "jinja") == [
        ("include", "base.j2"),
        ("include", "parts/a.jinja"),
        ("include", "macros.j2"),
        ("include", "forms.j2"),
        ("include", "first.j2"),
    ]


def test_comments_and_raw_blocks_are_not_includes_but_code_fences_are() -> None:
    # A template engine renders fenced code like any other text: an include there is real.
    text = (
        "{# {% include 'no1.j2' %} #}\n"
        "{% raw %}{% include 'no2.j2' %}{% endraw %}\n"
        "```\n{% include 'yes.j2' %}\n```\n"
        "`{% include 'yes2.j2' %}`\n"
    )
    assert found(text, "jinja") == [("include", "yes.j2"), ("include", "yes2.j2")]
    hb = "{{!-- {{> no}} --}}{{! {{> no2}} }}\n{{> yes}}"
    assert found(hb, "dotprompt") == [("partial", "_yes.prompt")]


def test_front_matter_is_yaml_not_template_text() -> None:
    text = "---\nexample: '{{> not_a_partial}}'\n---\n{{> real}}"
    assert found(text, "dotprompt") == [("partial", "_real.prompt")]


def test_prompty_file_references_only_in_front_matter() -> None:
    text = (
        "---\nname: x\nmodel:\n  configuration: ${file:shared_connection.json}\n"
        "sample: ${file: sample.json }\nschema: ${file:}\nkey: ${env:OPENAI_KEY}\n---\n"
        "system:\nnot here: ${file:body.json}\n"
    )
    assert found(text, "prompty") == [
        ("prompty-file", "shared_connection.json"),
        ("prompty-file", "sample.json"),
    ]


def test_only_the_dialects_own_syntax_counts() -> None:
    text = "{{> p}} {% include 'a.j2' %}"
    assert found(text, "dotprompt") == [("partial", "_p.prompt")]
    assert found(text, "jinja") == [("include", "a.j2")]
    assert found(text, "markdown") == []
    assert found(text, "claude-memory") == []


def test_corpus_prompty_file_references() -> None:
    refs = []
    for path in sorted((CORPUS / "prompty").rglob("*.prompty")):
        text = path.read_text(encoding="utf-8")
        for occ in scan_includes(text, "prompty"):
            assert covered(text, occ) == occ.raw
            refs.append(occ.target)
    # grep finds ${file:shared_connection.json} twice, ${file:schema.json} once, ${file:} once
    # (empty: no reference).
    assert sorted(refs) == ["schema.json", "shared_connection.json", "shared_connection.json"]
