"""The HuJSON normaliser: comments and trailing commas go, strings stay whole,
positions in errors point into the text as written (https://github.com/tailscale/hujson)."""

import json

import pytest

from ansible_collections.glorious.flywheel.plugins.module_utils._hujson import (
    HujsonError,
    canonical,
    loads,
    standardize,
)


@pytest.mark.parametrize(
    "text, data",
    [
        ('{"a": 1}', {"a": 1}),
        ('// head\n{"a": 1} // tail', {"a": 1}),
        ('{"a": /* inline */ 1}', {"a": 1}),
        ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
        ('{"a": [1, 2 , \n // why\n ], }', {"a": [1, 2]}),
        (
            '{"url": "http://x/y", "c": "/* not a comment */"}',
            {"url": "http://x/y", "c": "/* not a comment */"},
        ),
        ('{"s": "a,]", "t": "b,}"}', {"s": "a,]", "t": "b,}"}),
        (
            '{"q": "say \\"hi\\" // still a string", "n": 1,}',
            {"q": 'say "hi" // still a string', "n": 1},
        ),
        ('{"back": "c:\\\\", "x": 2}', {"back": "c:\\", "x": 2}),
        ('\ufeff{"bom": true}', {"bom": True}),
        ('{"tag:a": ["x@",],}\n/* last\n comment */', {"tag:a": ["x@"]}),
    ],
)
def test_comments_and_trailing_commas_are_not_data(text, data):
    assert loads(text) == data
    assert json.loads(standardize(text)) == data


def test_positions_are_kept_so_errors_point_into_the_original():
    text = '// one\n{\n  "a": 1, /* two */\n  "b": nope,\n}'
    assert len(standardize(text)) == len(text)
    assert standardize(text).count("\n") == text.count("\n")
    with pytest.raises(HujsonError, match="line 4 column 8"):
        loads(text)


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"a": 1 /* never closed', r"unterminated /\* comment starting at line 1"),
        ('{"a": "no end}', "unterminated string"),
        ('{"a": 1} trailing', "not valid HuJSON"),
        ("[1,,]", "not valid HuJSON"),
    ],
)
def test_broken_text_says_what_and_where(text, words):
    with pytest.raises(HujsonError, match=words):
        loads(text)


def test_canonical_ignores_key_order_but_not_list_order():
    assert canonical({"a": 1, "b": [1, 2]}) == canonical({"b": [1, 2], "a": 1})
    assert canonical({"b": [1, 2]}) != canonical({"b": [2, 1]})
