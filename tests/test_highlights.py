"""What of a quote matches the question (its words by their terms, its phrases), and the quotation
marks a quote cut from someone's words needs: both as read from the verbatim text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from retrieval.answer.query import parse_query
from retrieval.text.analysis import Analyzer
from retrieval.text.highlights import highlight_spans
from retrieval.text.quotations import quotation_marks, quoted_shares

ANALYZER = Analyzer()
SEED_PARAGRAPH = ('"We cannot prevent it. It is impossible. But we can minimize the consequences," '
                  "Peskov told the broadcaster.")


def marked(text: str, question: str) -> list[str]:
    query = parse_query(question, ANALYZER)
    return [text[start:end] for start, end in highlight_spans(text, set(query.terms), query.phrases, ANALYZER)]


def test_words_match_by_their_stems_in_any_case():
    assert marked("Ukraine's bid to join NATO: Kyiv is joining.", "Can Ukraine join nato?") == \
        ["Ukraine's", "join NATO", "joining"]


def test_stopwords_are_not_marked_but_a_phrase_is_marked_whole():
    assert marked("It is out of the question, he said.", 'what is "out of the question"') == ["out of the question"]
    assert marked("The BLACK   sea fleet", '"black sea"') == ["BLACK   sea"]


def test_words_only_white_space_apart_are_one_span_and_others_are_not():
    assert marked("Black Sea, Black\nSea fleet.", "black sea fleet") == ["Black Sea", "Black\nSea fleet"]


def test_term_spans_are_offsets_of_the_verbatim_text():
    text = "İstanbul’s U.S. envoy met ΣΟΦΙΑ"
    spans = ANALYZER.term_spans(text)
    assert [t for _, _, t in spans] == ANALYZER.terms(text)
    assert [text[s:e] for s, e, _ in spans] == ["İstanbul’s", "U.S.", "envoy", "met", "ΣΟΦΙΑ"]


WORDS = st.sampled_from(["NATO", "nato", "Ukraine", "joins", "joining", "the", "of", "sea", "Black", "“x”",
                         "a&b", "<b>", "🙂", "İ", "ß", "-", ".", "\n", "  "])


@given(st.lists(WORDS, max_size=30).map(" ".join), st.lists(WORDS, max_size=8).map(" ".join),
       st.text(max_size=40))
def test_spans_are_sorted_disjoint_within_the_text_and_cover_every_matching_word(text, question, noise):
    text += noise
    query = parse_query(question, ANALYZER)
    spans = highlight_spans(text, set(query.terms), query.phrases, ANALYZER)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))
    for start, end, term in ANALYZER.term_spans(text):
        if term in query.terms:
            assert any(s <= start and end <= e for s, e in spans)


def slice_of(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def test_a_quote_from_inside_straight_quotes_gets_both_marks():
    assert quotation_marks(SEED_PARAGRAPH, *slice_of(SEED_PARAGRAPH, "We cannot prevent it. It is impossible.")) \
        == ('"', '"')


def test_a_quote_that_opens_or_closes_someone_s_words_gets_the_other_mark():
    text = "He said: “We go. It is done,” and left."
    assert quotation_marks(text, *slice_of(text, "“We go.")) == ("", "”")
    assert quotation_marks(text, *slice_of(text, "It is done,” and left.")) == ("“", "")
    assert quotation_marks(text, *slice_of(text, "“We go. It is done,” and left.")) == ("", "")
    assert quotation_marks(text, *slice_of(text, "He said:")) == ("", "")


def test_nested_and_other_languages_marks():
    text = "Il a dit : « Nous lisons “Guerre et paix” ce soir », puis „Wir lesen“."
    assert quotation_marks(text, *slice_of(text, "Guerre")) == ("«“", "”»")
    assert quotation_marks(text, *slice_of(text, "paix” ce soir")) == ("«“", "»")
    assert quotation_marks(text, *slice_of(text, "Wir")) == ("„", "“")


def test_only_the_paragraph_of_the_quote_is_read_for_open_quotations():
    text = "“An opening never closed.\n\nThe next paragraph, said nobody."
    assert quotation_marks(text, *slice_of(text, "The next paragraph")) == ("", "")


def test_the_quoted_share_counts_the_words_inside_marks():
    said = "“We will rebuild it,” he said."
    assert quoted_shares(said, [(0, len(said))]) == [len("“We will rebuild it,”") / len(said)]
    assert quoted_shares("No quotes here.", [(0, 15)]) == [0.0]
    text = "He said: “First part. Second part.” Then he left."
    assert quoted_shares(text, [slice_of(text, "Second part."), slice_of(text, "Then he left.")]) == [1.0, 0.0]


def plain_quoted_share(text: str, start: int, end: int) -> float:
    """The definition `quoted_shares` keeps to, one window at a time: walk the marks from the
    window's start, the quotations open there read from its paragraph's start."""
    paragraph = max([0, *(m.end() for m in re.finditer(r"\n[^\S\n]*\n", text[:start]))])
    open_marks = quotation_marks(text, paragraph, start)[1]  # the closing marks still owed
    inside, since, depth = 0, start, len(open_marks)
    for i in range(start, end):
        was = depth
        depth = len(quotation_marks(text, paragraph, i + 1)[1])
        if was and not depth:
            inside += i + 1 - since
        elif not was and depth:
            since = i
    return (inside + (end - since if depth else 0)) / (end - start) if end > start else 0.0


@given(st.text(alphabet=st.sampled_from(list("ab .“”«»„\"\n")), max_size=40), st.data())
def test_the_quoted_shares_are_those_of_the_plain_definition(text, data):
    windows = [tuple(sorted(data.draw(st.tuples(st.integers(0, len(text)), st.integers(0, len(text))))))
               for _ in range(3)]
    assert quoted_shares(text, windows) == [plain_quoted_share(text, s, e) for s, e in windows]
