import pytest

from nlp.codebook import (dumps_codebook, load_codebook, loads_codebook, next_version,
                          with_theme)
from nlp.errors import CodebookError
from nlp.types import Theme

MINIMAL = """
name: other
version: 1
themes:
  - id: cost
    label: Cost
    definition: Money.
  - id: access
    label: Access
    definition: Getting in.
    include: [queues]
"""


def test_default_codebook_loads_twelve_themes():
    cb = load_codebook()
    assert len(cb.themes) == 12
    assert cb.theme_ids[:2] == ["bid_candy", "subsidising_contracts"]
    assert cb.theme("bid_candy").include


def test_round_trip_and_hash_stable():
    cb = loads_codebook(MINIMAL)
    again = loads_codebook(dumps_codebook(cb))
    assert again == cb
    assert again.content_hash == cb.content_hash


def test_hash_changes_with_definition():
    cb = loads_codebook(MINIMAL)
    other = loads_codebook(MINIMAL.replace("Money.", "Cash."))
    assert cb.content_hash != other.content_hash


@pytest.mark.parametrize("text,needle", [
    ("name: x\nversion: 1\n", "themes"),
    ("version: 1\nthemes: [{id: a, label: A, definition: d}]", "name"),
    ("name: x\nversion: 1\nthemes: [{id: a, label: A}]", "definition"),
    ("name: x\nversion: 1\nthemes: [{id: a, label: A, definition: d}, {id: a, label: B, definition: e}]",
     "duplicate theme id 'a'"),
    ("name: x\nversion: 1\nthemes: [{id: 'bad id!', label: A, definition: d}]", "must be letters"),
    ("- just a list", "mapping"),
    ("name: [unclosed", "not valid YAML"),
])
def test_bad_codebooks_name_the_problem(text, needle):
    with pytest.raises(CodebookError, match=needle.replace("(", r"\(")):
        loads_codebook(text, source="cb.yaml")


def test_yaml_bomb_refused():
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nname: n\nversion: 1\nthemes: []\n"
    with pytest.raises(CodebookError, match="aliases"):
        loads_codebook(bomb)


def test_missing_file(tmp_path):
    with pytest.raises(CodebookError, match="no such file"):
        load_codebook(tmp_path / "nope.yaml")


def test_with_theme_bumps_version():
    cb = loads_codebook(MINIMAL)
    new = with_theme(cb, Theme("delay", "Delay", "Waiting."))
    assert new.version == 2 and new.theme_ids == ["cost", "access", "delay"]
    assert next_version(loads_codebook(MINIMAL.replace("version: 1", "version: v1a"))) == "v1a.1"


def test_other_tools_field_names_are_read():
    cb = loads_codebook("""
name: other
version: 1
themes:
  - id: wait
    name: Waiting times
    description: Delays before the first appointment.
    examples: [three weeks for a slot]
    counterexamples: [the session was too short]
  - id: staff
    label: Staff
    definition: How staff treated the student.
    description: ignored, the definition is there
""")
    t = cb.themes[0]
    assert (t.label, t.definition) == ("Waiting times", "Delays before the first appointment.")
    assert t.include == ("three weeks for a slot",) and t.exclude == ("the session was too short",)
    assert cb.themes[1].definition == "How staff treated the student."


def test_missing_definition_names_its_other_name():
    with pytest.raises(CodebookError, match=r"missing field 'definition' \(or 'description'\)"):
        loads_codebook("name: x\nversion: 1\nthemes:\n  - {id: a, label: A}\n")
