"""Config files composed by libyaml (config/yaml_fast.py) read exactly as ruamel reads them."""

import datetime as dt

import pytest

from asemic_core.config import yaml_io

DOCUMENTS = [
    "a: yes\nb: 0777\nc: 1_000\nd: 2025-02-30\ne: 2025-01-01\nf: 1e3\ng: .inf\nh: ~\ni: ''\n",
    "j: |\n  x\n  y\nk: >\n  p\n  q\nl: [1, 2, {m: n}]\n",
    "- a\n- b: c\n  d: 0x1F\n",
    "a: 'it''s'\nb: \"q\\u00e9\\n\"\nc: é\n",
    "a:\n  - 1\n  -\n  - null\n",
    "a: 12:30\nb: 0o17\nc: +1\nd: -0.5\ne: True\nf: NO\ng: 2025-01-01T10:00:00Z\n",
    "properties:\n  x:  # a comment\n    label: X\n    sql: count(*)\n\n    data_type: INTEGER\n",
    "",
    "# only a comment\n",
]


def _ruamel(text):
    original = yaml_io._fast_load
    yaml_io._fast_load = lambda _text: yaml_io._NOT_FAST
    try:
        return yaml_io.parse_yaml(text, "f.yml")
    finally:
        yaml_io._fast_load = original


def _typed(value):
    if isinstance(value, dict):
        return [(type(k), k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return type(value), value


@pytest.mark.parametrize("text", DOCUMENTS)
def test_fast_path_reads_as_ruamel(text):
    assert yaml_io._fast_load(text) is not yaml_io._NOT_FAST  # libyaml composed it
    fast, fast_issues = yaml_io.parse_yaml(text, "f.yml")
    slow, slow_issues = _ruamel(text)
    assert fast_issues == slow_issues == []
    assert _typed(fast.data) == _typed(slow.data)
    assert fast.lines == slow.lines


def test_fast_path_values_and_lines():
    doc, issues = yaml_io.parse_yaml(DOCUMENTS[0] + DOCUMENTS[1], "f.yml")
    assert issues == []
    # YAML 1.2 (ruamel's reading): "yes" is text, 0777 is decimal; an impossible date stays text
    assert doc.data["a"] == "yes" and doc.data["b"] == 777 and doc.data["c"] == 1000
    assert doc.data["d"] == "2025-02-30" and doc.data["e"] == dt.date(2025, 1, 1) and doc.data["h"] is None
    assert doc.data["j"] == "x\ny\n" and doc.data["k"] == "p q\n" and doc.data["l"] == [1, 2, {"m": "n"}]
    assert doc.lines[("e",)] == 5 and doc.lines[("j",)] == 10 and doc.lines[("l", 2, "m")] == 16


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a': already defined on line 1"),
    ("a:\tb\n", "found character '\\t' that cannot start any token"),
    ("a: [1,\n", "invalid YAML"),
    ("x: 1\n---\ny: 2\n", "invalid YAML"),
])
def test_refused_documents_keep_ruamels_messages(text, message):
    doc, issues = yaml_io.parse_yaml(text, "f.yml")
    assert doc is None and issues == _ruamel(text)[1]
    assert message in issues[0].message


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: !!str 5\n", "%YAML 1.1\n---\na: yes\n", "a: b\t# tab\n"])
def test_what_libyaml_may_read_otherwise_goes_to_ruamel(text):
    assert yaml_io._fast_load(text) is yaml_io._NOT_FAST
