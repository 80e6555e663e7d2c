"""The ULMFiT tokenization rules on crafted strings, determinism, serial == parallel."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabtext.nlp import Tokenizer
from tabtext.nlp.text.parallel import resolve_workers
from tabtext.nlp.text.tokenize import (
    TK_BOS,
    apply_text_rules,
    tokenize_texts,
)

TOK = Tokenizer()


def toks(text: str, tokenizer: Tokenizer = TOK) -> list[str]:
    return tokenizer.tokenize([text], n_workers=0)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hello WORLD, this is GREAT!",
            "xxbos xxmaj hello xxup world , this is xxup great !",
        ),
        (
            "I loved it.<br /><br />The END",
            "xxbos i loved it . \n\n xxmaj the xxup end",
        ),
        (
            "Tom &amp; Jerry said &quot;hi&quot; &lt;3",
            'xxbos xxmaj tom & xxmaj jerry said " hi " <3',
        ),
        ("It was soooooo good!!!!", "xxbos xxmaj it was s xxrep 6 o good xxrep 4 !"),
        ("sooo good", "xxbos sooo good"),  # three repeats stay, as in fastai v1
        ("very very very very bad", "xxbos xxwrep 4 very bad"),
        ("Very very VERY bad", "xxbos xxwrep 3 xxmaj very bad"),
        ("the the film", "xxbos the the film"),  # two are not a repetition
        ("no, no, no. . . !", "xxbos no , no , no . . . !"),  # words only, in a row
        ("ha ha ha HA", "xxbos xxwrep 4 ha"),
        ("A B-movie, I think", "xxbos a b - movie , i think"),
        ("don't#hate/me", "xxbos do n't # hate / me"),
        ("  tabs\tand\xa0spaces   everywhere \n", "xxbos tabs and spaces everywhere"),
        ("wait... what\x85 now", "xxbos wait \u2026 what \u2026 now"),
        ("", "xxbos"),
    ],
)
def test_rules_exact_tokens(text, expected):
    assert toks(text) == expected.split(" ")


def test_br_variants_become_newline_tokens():
    assert toks("a<br>b<BR/>c<br />d") == [
        "xxbos",
        "a",
        "\n",
        "b",
        "\n",
        "c",
        "\n",
        "d",
    ]


def test_newline_runs_collapse_to_one_or_two():
    assert toks("a\n\n\n\nb \n c\r\nd") == [
        "xxbos", "a", "\n\n", "b", "\n", "c", "\n", "d"
    ]  # fmt: skip


def test_repetition_thresholds():
    assert toks("aa bbb", Tokenizer(min_char_rep=2)) == [
        "xxbos", "xxrep", "2", "a", "xxrep", "3", "b"
    ]  # fmt: skip
    assert toks("go go now", Tokenizer(min_word_rep=2)) == [
        "xxbos", "xxwrep", "2", "go", "now"
    ]  # fmt: skip
    assert toks("go go go", Tokenizer(replace_wrep=False)).count("go") == 3


def test_bare_entities_without_ampersand_are_fixed():
    assert apply_text_rules("it#39;s #36;5") == "it's $5"


def test_options_change_output():
    text = "Hello WORLD!!!!"
    plain = Tokenizer(mark_case=False, replace_rep=False, add_bos=False)
    assert toks(text, plain) == ["hello", "world", "!", "!", "!", "!"]
    cased = Tokenizer(lower=False, add_eos=True)
    assert toks(text, cased) == [
        "xxbos", "xxmaj", "Hello", "xxup", "WORLD", "xxrep", "4", "!", "xxeos"
    ]  # fmt: skip
    assert toks("sooo", Tokenizer(min_char_rep=3)) == ["xxbos", "s", "xxrep", "3", "o"]


def test_settings_key_tracks_settings():
    assert Tokenizer().settings_key() == Tokenizer().settings_key()
    keys = {
        Tokenizer().settings_key(),
        Tokenizer(lower=False).settings_key(),
        Tokenizer(min_char_rep=3).settings_key(),
        Tokenizer(add_eos=True).settings_key(),
        Tokenizer(fix_html=False).settings_key(),
    }
    assert len(keys) == 5
    assert len(Tokenizer().fingerprint) == 16


def test_bad_settings_and_inputs_raise():
    with pytest.raises(ValueError, match="min_char_rep"):
        Tokenizer(min_char_rep=1)
    with pytest.raises(TypeError, match="one str"):
        TOK.tokenize("a single string")
    with pytest.raises(TypeError, match="text 1 is a int"):
        TOK.tokenize(["ok", 3])
    with pytest.raises(ValueError, match="n_workers"):
        TOK.tokenize(["ok"], n_workers=-1)


CORPUS = [
    f"Review {i}: This MOVIE was {'really ' * (i % 5)}good!!!! <br />"
    f"I'd give it {i % 10}/10 &amp; more... Sooooo {'FUN' if i % 2 else 'dull'}."
    for i in range(60)
]


def test_parallel_equals_serial_and_is_deterministic():
    serial = TOK.tokenize(CORPUS, n_workers=0)
    assert serial == TOK.tokenize(CORPUS, n_workers=1)
    assert serial == TOK.tokenize(CORPUS, n_workers=2)
    assert serial == tokenize_texts(CORPUS, n_workers=2)
    assert all(doc[0] == TK_BOS for doc in serial)
    assert "xxwrep" in serial[3] and "xxrep" in serial[0]


def test_joined_form_splits_back(capsys):
    joined = TOK.tokenize_joined(CORPUS[:5], n_workers=0, progress=False)
    assert [s.split(" ") for s in joined] == TOK.tokenize(CORPUS[:5], n_workers=0)
    assert capsys.readouterr().err == ""  # progress=False is silent


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("aAbB \n\t.!&;<>/#xX\xa0'"), max_size=40))
def test_tokens_are_never_empty_nor_contain_spaces(text):
    out = toks(text)
    assert out[0] == TK_BOS
    assert all(t and " " not in t for t in out)
    assert all(t.strip() or t in ("\n", "\n\n") for t in out)
    assert out == toks(text)


def test_resolve_workers():
    assert resolve_workers(None, 10) == 1  # small inputs stay in this process
    assert resolve_workers(None, 5000) >= 1
    assert resolve_workers(4, 2) == 2 and resolve_workers(0, 100) == 1
    with pytest.raises(ValueError, match="n_workers"):
        resolve_workers(True, 10)
