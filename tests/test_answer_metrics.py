"""HotpotQA answer metrics: the official normalisation and F1 rules, on known cases and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.answer import exact_match, normalize_answer, token_f1


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an   apple, a pear  ", "apple pear"),
        ("Theatre of the Absurd", "theatre of absurd"),  # only whole-word articles go
        ("U.S.A.", "usa"),
        ("rock-'n'-roll", "rocknroll"),
        ("Ünïcode — ÉTÉ", "ünïcode — été"),  # non-ASCII punctuation is kept, as in the official script
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, normalised: str) -> None:
    assert normalize_answer(raw) == normalised


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        ("Tulsa", "tulsa", 1.0, 1.0),
        ("the Tulsa.", "Tulsa", 1.0, 1.0),
        ("Tulsa, Oklahoma", "Tulsa", 0.0, 2 / 3),
        ("New York City", "York", 0.0, 0.5),
        ("Paris", "London", 0.0, 0.0),
        ("yes", "Yes.", 1.0, 1.0),
        ("no", "yes", 0.0, 0.0),
        ("yes it is", "yes", 0.0, 0.0),  # a yes/no gold only matches exactly
        ("no", "no answer given", 0.0, 0.0),  # a yes/no prediction only matches exactly
        ("", "Tulsa", 0.0, 0.0),
        ("", "", 1.0, 0.0),  # the official F1 gives no credit when there are no tokens at all
        ("the the the", "a", 1.0, 0.0),
    ],
)
def test_known_cases(prediction: str, gold: str, em: float, f1: float) -> None:
    assert exact_match(prediction, gold) == em
    assert token_f1(prediction, gold) == pytest.approx(f1)


@given(st.text(), st.text())
def test_scores_are_bounded_floats(prediction: str, gold: str) -> None:
    for score in (exact_match(prediction, gold), token_f1(prediction, gold)):
        assert isinstance(score, float) and 0.0 <= score <= 1.0


@given(st.text())
def test_identity_scores_full_marks(text: str) -> None:
    assert exact_match(text, text) == 1.0
    assert token_f1(text, text) == (1.0 if normalize_answer(text) else 0.0)


@given(st.text(), st.text())
def test_f1_is_symmetric(a: str, b: str) -> None:
    assert token_f1(a, b) == pytest.approx(token_f1(b, a))
