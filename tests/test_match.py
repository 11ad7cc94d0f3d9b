"""The keyword contract of SPEC "Keyword syntax", checked through the public matcher API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from bot.match import KeywordError, Matcher, compile_keyword
from bot.match.topics import MAX_HITS
from bot.model import Field, Hit, Item


@dataclass(frozen=True)
class Topic:
    id: str
    keywords: Sequence[str]
    context: Sequence[str] = field(default_factory=tuple)
    exclude: Sequence[str] = field(default_factory=tuple)


def visible(keyword: str, text: str) -> list[str]:
    """The pieces of ``text`` that a one-keyword topic reports as hits."""
    matches = Matcher.compile([Topic("t", [keyword])]).match(text, "", "")
    if not matches:
        return []
    return [text[hit.start : hit.end] for hit in matches[0].hits]


MATCH_CASES = [
    # English, and the separators allowed between the words of a phrase.
    ("en_plain", "Caesar Act", "The Caesar Act was renewed.", ["Caesar Act"]),
    ("en_case", "caesar act", "THE CAESAR ACT", ["CAESAR ACT"]),
    ("en_possessive", "Caesar Act", "the Caesar Act's provisions", ["Caesar Act"]),
    ("en_possessive_typographic", "Caesar Act", "the Caesar Act’s reach", ["Caesar Act"]),
    ("hyphen_separates", "Assad", "Bashar al-Assad said", ["Assad"]),
    ("apostrophe_typographic", "OIAC", "l’OIAC a publié", ["OIAC"]),
    ("apostrophe_keyword_typographic", "l'OIAC", "selon l’OIAC", ["l’OIAC"]),
    ("nonbreaking_hyphen", "al-Assad", "Bashar al\u2011Assad", ["al\u2011Assad"]),
    ("hyphen_keyword_space_text", "al-Assad", "Bashar al Assad", ["al Assad"]),
    ("line_break", "Caesar Act", "the Caesar\nAct", ["Caesar\nAct"]),
    ("crlf_and_spaces", "Caesar Act", "the Caesar \r\n  Act", ["Caesar \r\n  Act"]),
    ("nbsp", "Caesar Act", "the Caesar\u00a0Act", ["Caesar\u00a0Act"]),
    ("narrow_nbsp", "Caesar Act", "the Caesar\u202fAct", ["Caesar\u202fAct"]),
    ("zero_width_space", "Caesar Act", "the Caesar\u200bAct", ["Caesar\u200bAct"]),
    ("quotes_in_keyword", '"Caesar Act"', "the Caesar Act", ["Caesar Act"]),
    ("typographic_quotes_in_keyword", "“Caesar Act”", "the Caesar Act", ["Caesar Act"]),
    ("quotes_in_text", "Caesar Act", "the “Caesar” Act", ["Caesar” Act"]),
    ("dash_between_words", "Caesar Act", "Caesar\u2014Act", ["Caesar\u2014Act"]),
    ("fullwidth", "Caesar Act", "ＣＡＥＳＡＲ Act", ["ＣＡＥＳＡＲ Act"]),
    ("soft_hyphen_inside_word", "torture", "tor\u00adture", ["tor\u00adture"]),
    ("underscore_separates", "act", "the_act_", ["act"]),
    ("every_occurrence", "act", "Act one, act two.", ["Act", "act"]),
    # The traps.
    ("trap_cat_category", "CAT", "a new category", []),
    ("trap_cat_uncat", "CAT", "UNCAT report", []),
    ("trap_syria_syriac", "Syria", "the Syriac church", []),
    ("trap_caesar_salad", "Caesar Act", "a Caesar salad", []),
    ("trap_sentence_punctuation", "Caesar Act", "Julius Caesar; Act III", []),
    ("trap_comma", "Caesar Act", "Caesar, Act", []),
    ("trap_full_stop", "Caesar Act", "Caesar. Act", []),
    ("trap_arabic_comma", "قانون قيصر", "قانون، قيصر", []),
    ("trap_act_inside_word", "Caesar Act", "Caesar Actions", []),
    # French and Dutch.
    (
        "fr_accents_text",
        "Convention contre la torture",
        "la convention CONTRE la tortüre",
        ["convention CONTRE la tortüre"],
    ),
    ("fr_accents_keyword", "Comité", "le comite a siégé", ["comite"]),
    ("fr_decomposed_accent", "Genève", "à Gene\u0300ve", ["Gene\u0300ve"]),
    ("fr_cedilla", "français", "l'Etat FRANCAIS", ["FRANCAIS"]),
    (
        "nl_phrase",
        "Verdrag tegen foltering",
        "het VERDRAG tegen Foltering werd",
        ["VERDRAG tegen Foltering"],
    ),
    ("nl_ij_ligature", "ijzer", "het \u0133zer", ["\u0133zer"]),
    # Arabic spelling variants.
    (
        "ar_hamza_alef_teh_marbuta",
        "اتفاقية مناهضة التعذيب",
        "إتفاقيه مناهضه التعذيب",
        ["إتفاقيه مناهضه التعذيب"],
    ),
    ("ar_alef_hamza_above", "الأسد", "نظام الاسد", ["الاسد"]),
    ("ar_alef_madda", "آثار", "اثار الحرب", ["اثار"]),
    ("ar_alef_wasla", "ٱلمحكمة", "المحكمة", ["المحكمة"]),
    ("ar_alef_maksura", "مصطفى", "مصطفي", ["مصطفي"]),
    ("ar_yeh_hamza", "رئيس", "رييس", ["رييس"]),
    ("ar_waw_hamza", "مؤتمر", "موتمر", ["موتمر"]),
    ("ar_tashkeel", "قانون قيصر", "قَانُونُ قَيْصَرَ", ["قَانُونُ قَيْصَرَ"]),
    ("ar_shadda_tanween", "محمد", "مُحَمَّدٌ", ["مُحَمَّدٌ"]),
    ("ar_tatweel", "قانون", "قانـــون", ["قانـــون"]),
    ("ar_tashkeel_in_keyword", "قَانُون", "قانون", ["قانون"]),
    # Arabic attached prefixes on the first word.
    (
        "ar_prefix_waw",
        "اتفاقية مناهضة التعذيب",
        "واتفاقية مناهضة التعذيب",
        ["واتفاقية مناهضة التعذيب"],
    ),
    ("ar_prefix_fa", "قانون", "فقانون", ["فقانون"]),
    ("ar_prefix_lam", "محكمة", "لمحكمة العدل", ["لمحكمة"]),
    ("ar_prefix_ba", "قانون قيصر", "بقانون قيصر", ["بقانون قيصر"]),
    ("ar_prefix_kaf", "قانون", "كقانون", ["كقانون"]),
    ("ar_prefix_lam_lam_for_article", "المحكمة", "للمحكمة", ["للمحكمة"]),
    ("ar_prefix_waw_lam_lam", "المحكمة الدولية", "وللمحكمة الدولية", ["وللمحكمة الدولية"]),
    ("ar_prefix_waw_ba", "قانون", "وبقانون", ["وبقانون"]),
    ("ar_prefix_ba_article", "المحكمة", "بالمحكمة", ["بالمحكمة"]),
    ("ar_prefix_not_second_word", "قانون قيصر", "قانون وقيصر", []),
    ("ar_prefix_never_stripped", "وزارة", "زارة", []),
    ("ar_prefix_not_other_letters", "قانون", "مقانون", []),
    ("ar_prefix_two_conjunctions", "قانون", "ووقانون", []),
    # Prefixes and regular expressions.
    (
        "prefix_words",
        "tortur*",
        "tortured, torturers and torture",
        ["tortured", "torturers", "torture"],
    ),
    ("prefix_whole_word_start", "tortur*", "non-torture, retorture", ["torture"]),
    ("prefix_too_short_word", "tortur*", "torts", []),
    ("prefix_last_word_of_phrase", "against tortur*", "Against Torture", ["Against Torture"]),
    ("prefix_accent_insensitive", "régim*", "REGIME and régimes", ["REGIME", "régimes"]),
    ("prefix_arabic", "تعذيب*", "والتعذيب وبتعذيبهم", ["وبتعذيبهم"]),
    ("regex_on_normalized", r"re:caesar\s+act", "CAESAR   Act", ["CAESAR   Act"]),
    ("regex_accents_folded", "re:tortur[a-z]+", "TORTÜRES", ["TORTÜRES"]),
    ("regex_arabic_normalized", "re:اتفاقيه", "الإتفاقية", ["إتفاقية"]),
    ("keyword_punctuation_required", "A/HRC/52", "doc A/HRC/52/L.1", ["A/HRC/52"]),
    ("keyword_punctuation_spaced", "A/HRC/52", "doc A / HRC / 52", ["A / HRC / 52"]),
    ("keyword_punctuation_missing", "A/HRC/52", "doc A HRC 52", []),
]


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [pytest.param(k, t, e, id=i) for i, k, t, e in MATCH_CASES],
)
def test_keyword_matches_exactly_these_words(keyword: str, text: str, expected: list[str]) -> None:
    """Each hit's span, cut from the original text, is exactly the visible matched words."""
    assert visible(keyword, text) == expected


TOPIC = Topic(
    "cat",
    keywords=["Convention Against Torture", "اتفاقية مناهضة التعذيب"],
    context=["Syria", "سوريا"],
    exclude=["Syriac"],
)


@pytest.mark.parametrize(
    ("fields", "expected_context"),
    [
        pytest.param(("Convention against Torture", "in Syria", ""), "Syria", id="context_summary"),
        pytest.param(("", "", "اتفاقية مناهضة التعذيب في سوريا"), "سوريا", id="context_arabic"),
        pytest.param(("Syria: Convention against Torture", "", ""), "Syria", id="context_first"),
        pytest.param(
            ("Convention against Torture", "", "Syria, Syria"), "Syria", id="context_twice"
        ),
        pytest.param(("Convention against Torture", "", ""), None, id="no_context"),
        pytest.param(("Convention against Torture", "Syria", "Syriac"), None, id="excluded"),
        pytest.param(("Syria", "", ""), None, id="context_only"),
        pytest.param(("Convention against Torture", "Syrian", ""), None, id="context_whole_word"),
    ],
)
def test_context_and_exclude(fields: tuple[str, str, str], expected_context: str | None) -> None:
    """A context word is required anywhere, an exclude word anywhere vetoes the topic."""
    matches = Matcher.compile([TOPIC]).match(*fields)
    if expected_context is None:
        assert matches == ()
        return
    (match,) = matches
    assert match.context is not None
    text = fields[list(Field).index(match.context.field)]
    assert text[match.context.start : match.context.end] == expected_context
    assert match.context.keyword in TOPIC.context


def test_context_hit_is_the_first_in_field_order() -> None:
    """The context hit is the earliest: title before summary before content, then position."""
    topic = Topic("t", ["torture"], context=["Assad", "Syria"])
    (match,) = Matcher.compile([topic]).match("torture", "x Syria then Assad", "Assad")
    assert match.context == Hit("Syria", Field.SUMMARY, 2, 7)


def test_topic_without_context_needs_only_a_keyword() -> None:
    """A topic with no context list matches on a keyword alone."""
    (match,) = Matcher.compile([Topic("t", ["Caesar Act"])]).match("", "", "the Caesar Act")
    assert match.context is None
    assert match.hits == (Hit("Caesar Act", Field.CONTENT, 4, 14),)


def test_hits_ordered_by_field_then_position() -> None:
    """Hits of all keywords come title first, then summary, then content, each by position."""
    topic = Topic("t", ["torture", "Caesar Act", "Assad"])
    (match,) = Matcher.compile([topic]).match(
        "Assad and torture", "Caesar Act, Assad", "torture. Caesar Act"
    )
    assert [(h.field, h.start, h.keyword) for h in match.hits] == [
        (Field.TITLE, 0, "Assad"),
        (Field.TITLE, 10, "torture"),
        (Field.SUMMARY, 0, "Caesar Act"),
        (Field.SUMMARY, 12, "Assad"),
        (Field.CONTENT, 0, "torture"),
        (Field.CONTENT, 9, "Caesar Act"),
    ]


def test_hits_are_capped() -> None:
    """A topic reports at most MAX_HITS hits, the first ones."""
    text = " ".join(["torture"] * (MAX_HITS + 5))
    (match,) = Matcher.compile([Topic("t", ["torture"])]).match("", "", text)
    assert len(match.hits) == MAX_HITS
    assert match.hits[0].start == 0


def test_results_in_topic_order_with_overlapping_keywords() -> None:
    """Keywords of different topics may overlap or nest; every topic sees its own hits."""
    topics = [
        Topic("protection", ["Protection Act"]),
        Topic("caesar", ["Caesar Act", "Caesar Syria Civilian Protection Act"]),
        Topic("syria", ["Syria"]),
        Topic("civilians", ["civilian*"]),
        Topic("absent", ["Assad"]),
    ]
    text = "the Caesar Syria Civilian Protection Act"
    matches = Matcher.compile(topics).match("", "", text)
    assert [m.topic_id for m in matches] == ["protection", "caesar", "syria", "civilians"]
    found = {m.topic_id: [text[h.start : h.end] for h in m.hits] for m in matches}
    assert found["caesar"] == ["Caesar Syria Civilian Protection Act"]
    assert found["protection"] == ["Protection Act"]
    assert found["civilians"] == ["Civilian"]


def test_same_keyword_in_several_roles_and_topics() -> None:
    """One keyword may be a keyword of one topic and an exclude word of another."""
    topics = [
        Topic("a", ["Assad"]),
        Topic("b", ["torture"], exclude=["Assad"]),
        Topic("c", ["torture", "torture"], context=["Assad"]),
    ]
    matches = Matcher.compile(topics).match("Assad and torture", "", "")
    assert [m.topic_id for m in matches] == ["a", "c"]
    assert len(matches[1].hits) == 1


def test_match_item_uses_all_three_fields() -> None:
    """match_item reads title, summary and content of an Item."""
    item = Item(key="k", title="t", link=None, summary="s", content="under the Caesar Act")
    (match,) = Matcher.compile([Topic("c", ["Caesar Act"])]).match_item(item)
    assert match.hits == (Hit("Caesar Act", Field.CONTENT, 10, 20),)


def test_hit_keyword_is_as_written_in_config() -> None:
    """Hit.keyword is the config spelling, not the normalized one."""
    (match,) = Matcher.compile([Topic("c", ["  Comité contre la TORTURE "])]).match(
        "le comite contre la torture", "", ""
    )
    assert match.hits[0].keyword == "  Comité contre la TORTURE "


def test_topic_ids() -> None:
    """topic_ids lists the topics in config order."""
    matcher = Matcher.compile([Topic("b", ["x"]), Topic("a", ["y"])])
    assert matcher.topic_ids == ("b", "a")


def test_no_topics_and_empty_fields() -> None:
    """A matcher without topics, or an item without text, matches nothing."""
    assert Matcher.compile([]).match("Caesar Act", "", "") == ()
    assert Matcher.compile([Topic("c", ["Caesar Act"])]).match("", "", "") == ()


@pytest.mark.parametrize(
    ("keyword", "message"),
    [
        pytest.param("", "empty keyword", id="empty"),
        pytest.param("   ", "empty keyword", id="whitespace"),
        pytest.param('""', "no letters or digits", id="only_quotes"),
        pytest.param("--", "no letters or digits", id="only_hyphens"),
        pytest.param("re:", "empty regular expression", id="regex_empty"),
        pytest.param("re:(unclosed", "invalid RE2", id="regex_unclosed"),
        pytest.param(r"re:(a)\1", "invalid RE2", id="regex_backreference"),
        pytest.param("re:a*", "matches empty text", id="regex_matches_empty"),
        pytest.param("tor*ture", "only allowed at the end", id="star_inside"),
        pytest.param("*", "must directly follow", id="star_alone"),
        pytest.param("torture *", "must directly follow", id="star_after_space"),
        pytest.param("tortur* act", "only allowed at the end", id="star_not_last_word"),
    ],
)
def test_invalid_keywords(keyword: str, message: str) -> None:
    """Keywords that cannot work are refused at load time with a reason."""
    with pytest.raises(KeywordError, match=message):
        compile_keyword(keyword)


def test_compile_error_names_topic_and_keyword() -> None:
    """Matcher.compile says which topic and which list hold the bad keyword."""
    with pytest.raises(KeywordError, match=r"topic 'cat', exclude: 're:\(x'"):
        Matcher.compile([Topic("ok", ["x"]), Topic("cat", ["torture"], exclude=["re:(x"])])


def test_catastrophic_regex_is_linear() -> None:
    """RE2 runs the classic catastrophic pattern without backtracking (stdlib re would hang)."""
    text = "a" * 50_000 + "!"
    assert Matcher.compile([Topic("r", ["re:(a+)+$"])]).match(text, "", "") == ()


def test_many_keywords_agree_with_one_by_one() -> None:
    """A matcher of many topics finds what one-topic matchers find, topic by topic."""
    keywords = [
        "Caesar Act",
        "tortur*",
        "المحكمة",
        "Convention contre la torture",
        "Assad",
        "re:civil\\w+",
        "قانون قيصر",
        "Syria",
        "act",
    ]
    topics = [Topic(f"t{i}", [k]) for i, k in enumerate(keywords)]
    fields = (
        "Caesar Act’s reach: al-Assad",
        "للمحكمة وبقانون قيصر; torturers in Syria’s jails",
        "La Convention contre la tortüre — civilians, Syriac, act",
    )
    together = {m.topic_id: m for m in Matcher.compile(topics).match(*fields)}
    for topic in topics:
        alone = Matcher.compile([topic]).match(*fields)
        assert (together.get(topic.id),) == (alone or (None,)), topic.keywords


def test_agrees_with_naive_per_keyword_regexes() -> None:
    """On generated multilingual text, the matcher finds what one stdlib regex per keyword finds."""
    from bench.match_bench import run

    result = run(keywords=120, megabytes=0.2, naive_megabytes=0.2, seed=3)
    assert result["matched_items"] > 0
