"""The text rules one by one: HTML fixes, character repeats, case markers, word runs."""

import numpy as np
import pytest

from tabtext.nlp.text.rules import (
    char_rep_regex,
    convert_token,
    fix_html,
    has_word_run,
    sub_char_rep,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a<br />b<BR>c< br/ >d", "a\nb\nc\nd"),
        ("Tom &amp; Jerry &lt;3", "Tom & Jerry <3"),
        ("&amp;quot;twice&amp;quot;", '"twice"'),  # escaped twice
        ("it#39;s #36;5 #146;x", "it's $5 'x"),  # entities that lost their "&"
        ('a\\nb \\"q\\"', 'a\nb "q"'),  # escapes left in the text
        ("an <unk> word", "an xxunk word"),
        ("3 @.@ 5 and well @-@ known", "3.5 and well-known"),  # WikiText
        ("wait... now\x85", "wait \u2026  now \u2026 "),
        ("nothing to fix; really", "nothing to fix; really"),
    ],
)
def test_fix_html(text, expected):
    assert fix_html(text) == expected


def test_char_rep_regex_marks_runs_of_at_least_min_rep():
    four = char_rep_regex(4)
    assert four.sub(sub_char_rep, "sooo soooo !!!!!") == "sooo s xxrep 4 o   xxrep 5 ! "
    assert char_rep_regex(2).sub(sub_char_rep, "aa b") == " xxrep 2 a  b"
    assert char_rep_regex(4) is four  # compiled once per threshold
    assert char_rep_regex(3).sub(sub_char_rep, "  ") == "  "  # spaces never count


@pytest.mark.parametrize(
    "token, mark_case, lower, expected",
    [
        ("Hello", True, True, ("xxmaj", "hello")),
        ("WORLD", True, True, ("xxup", "world")),
        ("Hello", True, False, ("xxmaj", "Hello")),
        ("Hello", False, True, ("hello",)),
        ("Hello", False, False, ("Hello",)),
        ("I", True, True, ("i",)),  # one letter: no marker
        ("McDonald", True, True, ("mcdonald",)),  # mixed case: lowercased only
        ("plain", True, True, ("plain",)),
        ("  ", True, True, ()),  # whitespace without a line break is dropped
        ("\r\n", True, True, ("\n",)),
        (" \n\n\n ", True, True, ("\n\n",)),
    ],
)
def test_convert_token_case_markers(token, mark_case, lower, expected):
    assert convert_token(token, mark_case, lower) == expected


def test_has_word_run():
    assert has_word_run(np.array([1, 2, 2, 2, 3]), 3)
    assert not has_word_run(np.array([1, 2, 2, 3, 3]), 3)
    assert not has_word_run(np.array([2, 2]), 3)  # shorter than k
    assert has_word_run(np.array([4, 4, 4, 4]), 4)
