"""The analyzer: its fast paths give exactly the terms of the plain definition."""

from __future__ import annotations

import pickle
import re

from hypothesis import given
from hypothesis import strategies as st

from retrieval.text.analysis import Analyzer
from retrieval.text.languages import fold

# The definition the analyzer's faster regex and term cache must keep to, written plainly.
PLAIN_WORD = re.compile(
    r"(?:[^\W\d_]\.){2,}"           # acronyms with dots
    r"|\d+(?:[.,]\d+)+"              # numbers with separators
    r"|[^\W_]+(?:['’][^\W_]+)*"      # words, apostrophes inside
)


def plain_terms(analyzer: Analyzer, text: str) -> list[str]:
    if analyzer.code == "en" and not text.isupper():  # "US", "WHO": the acronyms, not the stopwords
        text = re.sub(r"(?<![\w.])(US|WHO)(?!\w|\.\w)", lambda match: ".".join(match[1]) + ".", text)
    words = [w.replace("’", "'").rstrip(".") for w in PLAIN_WORD.findall(fold(text, analyzer.code).casefold())]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    # an acronym with dots is its letters, unless they spell a stopword ("u.n" is "un"; "u.s" stays)
    words = [w.replace(".", "") if re.fullmatch(r"(?:[^\W\d_]\.)+[^\W\d_]", w) and w not in ("a.m", "p.m")
             and w.replace(".", "") not in analyzer.stopwords else w for w in words]
    if analyzer.code == "en":  # "there'd", "it'll": the word without what is contracted onto it
        words = [w if w in analyzer.stopwords else re.sub(r"'(?:d|ll|re|ve)$", "", w) for w in words]
    stemmer = Analyzer(analyzer.language)._stem
    return [stemmer(w) if w.isalpha() else w for w in words if w not in analyzer.stopwords]


TEXT = st.text(alphabet=st.sampled_from(list("aAbU.S's’ 1,2.9_-\n\tßİΣσ²½é…\"'dlrve")) | st.characters(), max_size=80)


@given(TEXT)
def test_terms_are_those_of_the_plain_definition(text):
    analyzer = Analyzer()
    assert analyzer.terms(text) == plain_terms(analyzer, text)
    assert analyzer.terms(text) == plain_terms(analyzer, text)  # again, from the cache


@given(st.lists(TEXT, max_size=5))
def test_a_shared_analyzer_gives_each_text_its_own_terms(texts):
    shared = Analyzer()
    assert [shared.terms(t) for t in texts] == [Analyzer().terms(t) for t in texts]


ASCII_TEXT = st.text(alphabet=st.sampled_from(list("aAbU.S's 1,2.9_-\n\t\"'dlrve!?;:()")) | st.characters(max_codepoint=127),
                    max_size=80)


@given(st.lists(ASCII_TEXT | TEXT, max_size=6))
def test_joined_terms_are_the_terms_joined(texts):
    shared = Analyzer()
    for text in texts + texts:  # again, from the runs' cache
        assert shared.joined_terms(text) == " ".join(Analyzer().terms(text))


def test_a_pickled_analyzer_analyzes_alike():
    for analyzer in (Analyzer(), Analyzer("english", stopwords=False), Analyzer("porter")):
        copy = pickle.loads(pickle.dumps(analyzer))
        assert (type(copy), copy.key) == (type(analyzer), analyzer.key)
        assert copy.terms("The U.S. runners' 6.4 pct rises") == analyzer.terms("The U.S. runners' 6.4 pct rises")


def test_elided_articles_are_not_part_of_the_word():
    french = Analyzer("fr")
    assert french.terms("l’intérieur de l'alarme") == french.terms("intérieur alarme")
    assert french.terms("Qu'est-ce") == []  # "est" and "ce" are stopwords
    assert french.is_stopword("qu'est")
    assert Analyzer("it").terms("dell'Unione") == Analyzer("it").terms("Unione")
    assert Analyzer().terms("d'Souza") == ["d'souza"]  # English keeps the word whole


@given(st.lists(st.sampled_from(["l'", "d’", "qu'", "jusqu'", "été", "hiver", "l", "'", "Paris", " "]),
                max_size=12).map("".join))
def test_french_terms_are_those_of_the_words_without_their_elided_article(text):
    french = Analyzer("fr")
    words = [re.sub(r"^(?:l|d|qu|jusqu)'(?=[^\W\d_])", "", w.replace("’", "'").casefold())
             for w in PLAIN_WORD.findall(text)]  # one article off the front of each word
    term = Analyzer("fr")
    assert french.terms(text) == [term._stem(term._lemma(w)) if w.isalpha() else w for w in words
                                  if w not in french.stopwords]


def test_inflections_the_stemmer_leaves_apart_meet_at_their_lemma():
    german = Analyzer("de")
    assert german._stem("gesenkt") != german._stem("senkt")  # Snowball alone keeps the participle apart
    assert german.terms("gesenkt senkt senkte") == ["senk"] * 3
    assert Analyzer("en").terms("said say") == ["said", "say"]  # English is stemmed as written
    assert ":lemmas=simplemma-" in Analyzer("de").key and ":lemmas" not in Analyzer("en").key


def test_a_lemma_is_looked_up_as_written_and_folded_after():
    """The lemma dictionaries spell Arabic with ة and أ; the archive's terms fold them away."""
    arabic = Analyzer("ar")
    assert len(set(arabic.terms("حكومة الحكومة حكومات الحكومات"))) == 1
    assert len(set(arabic.terms("وزارة الوزارة وزارات"))) == 1


def test_a_contraction_typed_without_its_apostrophe_is_a_stopword_too():
    assert Analyzer().terms("whats the death toll, hows it going, thats all") == ["death", "toll", "go"]
    assert Analyzer().terms("it wasnt broke and they dont care, arent they") == ["broke", "care"]
    assert Analyzer().terms("well, the shell said we'd") == ["well", "shell", "said"]  # words, not "we'll"


def test_an_acronym_is_one_term_with_its_dots_or_without():
    analyzer = Analyzer()
    assert analyzer.terms("the U.N. and the UN, the U.K. and the UK") == ["un", "un", "uk", "uk"]
    # "US" is the country, as "U.S." is; "us" is the pronoun, a stopword
    assert analyzer.terms("US troops told us, U.S. officials said") == ["u.s", "troop", "told", "u.s", "offici", "said"]
    assert [term for _, _, term in analyzer.term_spans("US troops told us")] == ["u.s", "troop", "told"]
    assert analyzer.terms("WHO experts, who met") == ["w.h.o", "expert", "met"]  # the organisation, the pronoun
    assert analyzer.terms("troops in the US. The WHO's chief") == ["troop", "u.s", "w.h.o", "chief"]
    assert analyzer.terms("WHO CAN STOP US") == ["stop"]  # a text in capitals: the pronouns
    assert analyzer.terms("at 4 p.m. the PM spoke") == ["4", "p.m", "pm", "spoke"]


def test_the_acronyms_are_marked_alike_whatever_was_analyzed_before():
    analyzer = Analyzer()
    analyzer.terms("who's there, us?")  # the pronouns' forms remembered first
    assert [term for _, _, term in analyzer.term_spans("the WHO's chief met US troops")] == [
        "w.h.o", "chief", "met", "u.s", "troop"]
