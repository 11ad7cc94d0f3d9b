"""The canonical text form used for matching, and its map back to the original text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.match import normalize, normalize_with_map


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Caesar ACT", "caesar act", id="case"),
        pytest.param("Straße", "strasse", id="casefold_sharp_s"),
        pytest.param("é ö ç Å", "e o c a", id="latin_accents"),
        pytest.param("e\u0301", "e", id="decomposed_accent"),
        pytest.param("ﬁn ＡＢ ①", "fin ab 1", id="nfkc"),
        pytest.param("أ إ آ ٱ", "ا ا ا ا", id="ar_alef_variants"),
        pytest.param("ة ى ئ ؤ", "ه ي ي و", id="ar_letter_variants"),
        pytest.param("مُحَمَّدٌ", "محمد", id="ar_tashkeel"),
        pytest.param("قانـــون", "قانون", id="ar_tatweel"),
        pytest.param("ﻷ", "لا", id="ar_presentation_form"),
        pytest.param("٣", "٣", id="ar_digit_kept"),
        pytest.param("’‘ʼ′", "''''", id="apostrophes"),
        pytest.param("“«»”", '""""', id="double_quotes"),
        pytest.param("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-------", id="dashes"),
        pytest.param("a\u00adb", "ab", id="soft_hyphen_removed"),
        pytest.param("a\u200db\u200cc\ufeffd", "abcd", id="joiners_removed"),
        pytest.param("a\u200bb", "a b", id="zero_width_space_separates"),
        pytest.param("a\u00a0b\u202fc\td\ne\u3000f", "a b c d e f", id="whitespace"),
        pytest.param("𝐂𝐀𝐓", "cat", id="astral_math_letters"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    """Each rule of the normalization, one at a time."""
    assert normalize(text) == expected


def test_map_points_at_source_characters() -> None:
    """Every normalized character maps to the original character it came from."""
    text = "Aß e\u0301 ﬁ\u00adx قانـون"
    normalized, origin = normalize_with_map(text)
    assert normalized == "ass e fix قانون"
    assert origin == [0, 1, 1, 2, 3, 5, 6, 6, 8, 9, 10, 11, 12, 14, 15]


@given(st.text())
def test_map_is_consistent(text: str) -> None:
    """The map is as long as the normalized text, in order, and agrees with normalize()."""
    normalized, origin = normalize_with_map(text)
    assert normalized == normalize(text)
    assert len(origin) == len(normalized)
    assert origin == sorted(origin)
    assert all(0 <= index < len(text) for index in origin)
    for position, index in enumerate(origin):
        assert normalized[position] in normalize(text[index])


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    """Normalizing twice changes nothing, so keywords and text meet in one form."""
    once = normalize(text)
    assert normalize(once) == once
