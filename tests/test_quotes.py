"""Choosing the quote: which sentences of a story answer the question."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.answer.kinds import Asked, answers_held, asked_for, gives_words_of, speaker
from retrieval.answer.quotes import (CLOSE_CALL, FEATURES, Asking, _story_weights, _widened, answer_cue, asks_when,
                                     choose_quote, quote_model, window_features)
from retrieval.text.sentences import sentence_spans
from retrieval.text.analysis import Analyzer

ANALYZER = Analyzer()


def quote(text: str, question: str, weights: dict[str, float] | None = None, phrases: tuple[str, ...] = ()) -> str:
    """The quote for `question` from `text`, its terms weighing 1 unless `weights` says otherwise."""
    weights = weights or dict.fromkeys(ANALYZER.terms(question), 1.0)
    asking = Asking(weights, frozenset(ANALYZER.words(question)), asked_for(question), phrases, answer_cue(question))
    chosen = choose_quote(text, (0, len(text)), asking, ANALYZER)
    return text[chosen.start:chosen.end]


WHEN, HOW_MUCH, HOW_FAST = "When did it happen?", "How much did it cost?", "How fast did the economy grow?"


@pytest.mark.parametrize("question, sentence, holds", [
    # "when": a point in time, not a span
    (WHEN, "It left the market in 1978.", True),
    (WHEN, "The rule takes effect from March 13.", True),
    (WHEN, "Delegates agreed on Friday.", True),
    (WHEN, "The plan was announced last week.", True),
    (WHEN, "It follows four years of austerity.", False),
    (WHEN, "Prices may fall.", False),
    # "how much": an amount with its unit, not a day of a month
    (HOW_MUCH, "The offer was for 45 dlrs in cash.", True),
    (HOW_MUCH, "It costs 27 mln dlrs a month.", True),
    (HOW_MUCH, "Output rose 5.2 pct.", True),
    (HOW_MUCH, "It submitted the bid on April 8.", False),
    (HOW_MUCH, "More than two mln tonnes are stored.", False),
    # "how fast": a rate
    (HOW_FAST, "The economy grew 4.5 pct last year.", True),
    (HOW_FAST, "Output rose 14.1 percent.", True),
    (HOW_FAST, "Sales reached 45 mln dlrs.", False),
])
def test_an_answer_cue_is_what_the_question_asks_for(question, sentence, holds):
    assert bool(answer_cue(question).search(sentence)) is holds


@pytest.mark.parametrize("question, is_when", [
    ("When did Lavrov announce it?", True),
    ("By what date will Firestone shut the plants?", True),
    ("From what date will the mission stop working?", True),
    ("What did Lavrov announce?", False),
    ("Whenever", False),
])
def test_questions_asking_for_a_point_in_time(question, is_when):
    assert asks_when(question) is is_when




@pytest.mark.parametrize("question, asked", [
    ("Who managed Leicester to the title?", Asked.PERSON),
    ("which nurse gave the first pfizer jab", Asked.PERSON),
    ("How much will the new bridge cost?", Asked.AMOUNT),
    ("how many shots did the neighbour say she heard", Asked.AMOUNT),
    ("whats the death toll on everest", Asked.AMOUNT),
    ("in may 2016, how long could the trial last?", Asked.AMOUNT),
    ("When did Pope Francis die?", Asked.TIME),
    ("Why did Abe step down?", Asked.REASON),
    ("What did the Kremlin spokesman say about the arrest?", Asked.WORDS),
    ("How did the Foreign Office respond?", Asked.WORDS),
    ("Where was the summit held?", Asked.PLACE),
    ("Was anybody hurt in the blaze?", Asked.YES_NO),
    ("Tell me about the bridge", Asked.OTHER),
    ("What was Norway's annual inflation rate in May?", Asked.AMOUNT),  # a possessive among the words
    ("what was the final vote tally", Asked.AMOUNT),
    ("what did the minister say about the price of oil", Asked.WORDS),  # not the price
    ("Which countries signed the treaty?", Asked.PLACE),
    ("what city does the new coach come from", Asked.PLACE),
    ("name of the minister who signed the deal", Asked.PERSON),
    ("Which Acme Foods executives resigned?", Asked.PERSON),
    ("what do analysts think caused the crash", Asked.OTHER),  # "what" is not "which analysts"
    ("at the june summit what time did the leaders meet", Asked.TIME),  # a lead-in without a comma
    ("the bridge collapse - where did it happen", Asked.PLACE),
    ("which earlier outbreaks got the same WHO label", Asked.OTHER),  # WHO, the organisation
    ("WHO warns about masks: what did it say", Asked.WORDS),
    ("at 10:30, who spoke first", Asked.PERSON),  # the colon of a time is no lead-in's
    ("on 9 may, 2015, where did the raid happen", Asked.PLACE),  # two lead-ins
    ("on budget day when did the vote happen", Asked.TIME),
    ("what happened to the ceo after the fine", Asked.OTHER),  # no amount asked
    ("what did the company do with its budget", Asked.OTHER),
])
def test_a_question_is_classed_by_what_it_asks_for(question, asked):
    assert asked_for(question) is asked


@pytest.mark.parametrize("question, language, asked", [
    ("Кто возглавил банк?", "ru", Asked.PERSON),
    ("до скольких процентов подняли ставку?", "ru", Asked.AMOUNT),
    ("что она надела, когда ставку подняли?", "ru", Asked.OTHER),  # "когда" joins clauses here
    ("Что министр сказал о мосте?", "ru", Asked.WORDS),
    ("¿Cuántos votos obtuvo?", "es", Asked.AMOUNT),
    ("¿Qué dijo la ministra al perder?", "es", Asked.WORDS),
    ("¿Cuándo abrió el puente?", "es", Asked.TIME),
    ("Warum trat er zurück?", "de", Asked.REASON),
    ("Ab wann gilt das Ticket?", "de", Asked.TIME),
    ("Was sagte der Minister?", "de", Asked.WORDS),  # not the English "was"
    ("Wer sagte, alle seien einig?", "de", Asked.PERSON),
    ("Le 2 mai, les rafales ont atteint combien à Brest ?", "fr", Asked.AMOUNT),  # in situ
    ("Qu'est-ce que le joueur a promis ?", "fr", Asked.WORDS),
    ("Le pont qui est tombé a coûté cher", "fr", Asked.OTHER),  # a relative "qui"
    ("ایران کتنے گول سے ہارا؟", "ur", Asked.AMOUNT),  # before the verb
    ("پولنگ کب ختم ہوئی؟", "ur", Asked.TIME),
    ("پزشکیان چند رای آورد؟", "fa", Asked.AMOUNT),
    ("کی گفت که آنها فوت کردند؟", "fa", Asked.PERSON),
    ("سهمیه‌بندی از کی شروع شد؟", "fa", Asked.TIME),
    ("كم عدد سكان المدينة؟", "ar", Asked.AMOUNT),
    ("متى أعلن الفيفا القرار؟", "ar", Asked.TIME),
    ("متى؟", "ar", Asked.TIME),  # before its question mark
    ("ایران کتنے؟", "ur", Asked.AMOUNT),
    ("ما عنوان المقال؟", "ar", Asked.OTHER),  # "قال" inside "المقال" says nothing
    ("Qui dirigeait la banque quand la crise a éclaté ?", "fr", Asked.PERSON),  # "quand" joins clauses
    ("Il a dit quoi ?", "fr", Asked.WORDS),
    ("چه کسی گفت که آنها رفتند؟", "fa", Asked.PERSON),
    ("Quanto costa il ponte?", "it", Asked.OTHER),  # a language the table does not hold
])
def test_a_question_is_classed_in_its_own_language(question, language, asked):
    assert asked_for(question, language) is asked


@pytest.mark.parametrize("asked, sentence, question, held", [
    (Asked.AMOUNT, "It is expected to cost 2.1 billion dollars.", "how much will the bridge cost", True),
    (Asked.AMOUNT, "The bridge was first planned in 1998.", "how much will the bridge cost", False),  # a year
    (Asked.AMOUNT, "Seven banks were excluded.", "which seven banks were excluded", False),  # the question's own
    (Asked.AMOUNT, "It began on the 1st and ended on the 2nd.", "how much did it cost", False),  # ordinals
    (Asked.AMOUNT, "Winds reached 165 km/h.", "how fast were the winds", True),
    (Asked.AMOUNT, "The EU gave $5bn in aid.", "how much did the eu give", True),
    (Asked.AMOUNT, "It was the 12th aid package.", "how much aid", False),
    (Asked.PERSON, "The case was dismissed by Judge Mary Smith.", "which judge dismissed the case", True),
    (Asked.PERSON, "The case was dismissed on Monday.", "which judge dismissed the case", False),
    (Asked.PERSON, "Leicester won the league.", "who managed leicester", False),  # opens the sentence
    (Asked.PERSON, "The board fired its chief, Sam Altman.", "who replaced altman", False),  # the name asked, whole
    (Asked.PERSON, "The board fired Sam Altman and named Mira Murati.", "who replaced altman", True),
    (Asked.PERSON, "Rival Jean-Luc Melenchon spoke.", "what did melenchon say", False),  # hyphenated
    (Asked.TIME, "The quake struck at 4:53 p.m. local time.", "what time did the quake strike", True),
    (Asked.TIME, "Brexit took place at 11pm.", "what time did the uk leave", True),
    (Asked.TIME, "He scored 4.5 points.", "what time did he score", False),
    (Asked.WORDS, "\u201cWe will rebuild it,\u201d he said.", "what did macron promise", True),
    (Asked.REASON, "They resigned because of the blast.", "why did they resign", True),
    (Asked.OTHER, "Anything at all 42.", "tell me about it", False),
])
def test_a_sentence_holds_the_answer_when_it_adds_what_was_asked(asked, sentence, question, held):
    assert (answers_held(asked, sentence, frozenset(ANALYZER.words(question))) > 0) is held


@pytest.mark.parametrize("question, who", [
    ("what did the kremlin spokesman say about the talks", "the kremlin spokesman"),
    ("how did boris describe the deal in his video", "boris"),
    ("in march 2023 what did the ubs chairman say about the takeover", "the ubs chairman"),
    ("What's Macron promised about Notre Dame?", "Macron"),
    ("what did he tell reporters", "he"),
    ("who said it", None),
    ("when did the kremlin say it", None),
    ("how did the stock market react to the cut", None),  # a reaction may be words or deeds
    ("what was the ship called", None),  # passives ask for no one's words
    ("how was the crash described", None),
    ("what is the president going to say", None),
])
def test_whose_words_a_question_asks_for(question, who):
    assert speaker(question) == who


@pytest.mark.parametrize("story, gives", [
    ("Boris Johnson arrived on Thursday.\n\nTalks began.\n\nMr Johnson said it was good.", True),  # named in full once
    ("Tim Cook became chief in 2011. \"We are proud,\" the statement read.", True),  # words follow
    ("The company grew as chief executive Tim Cook expanded its services.", False),
    ("Analysts said the shares would rise. Tim Cook runs the company.", False),  # another's words
    ("Apple is run by Tim Cook. Shares rose.\n\nLater, analysts said they would rise.", False),  # a run ends at a stop
])
def test_a_story_gives_the_words_of_whom_it_names_speaking(story, gives):
    assert gives_words_of(story, frozenset(ANALYZER.terms("tim cook boris")), ANALYZER) is gives


def test_the_quote_answers_instead_of_restating_the_question():
    text = ("The city is planning a new bridge across the river, officials said. "
            "It is expected to cost 2.1 billion dollars. "
            "Work on the bridge across the river should start next spring, the city said. "
            "Residents have long asked for a second crossing.")
    assert "2.1 billion dollars" in quote(text, "How much will the new bridge cost?")


def test_a_which_question_quotes_the_sentence_with_the_name():
    text = ("The fraud case against the company was dismissed on Tuesday, its lawyers said. "
            "The shares rose 4 pct after the news. "
            "Judge Mary Okafor threw out the fraud case, saying the evidence was thin. "
            "The company had denied wrongdoing.")
    assert "Mary Okafor" in quote(text, "Which judge dismissed the fraud case?")


RUIZ = ("Rain fell on the capital all week.\n\n"
        "Prime Minister Ana Ruiz said on Monday that the flooding of the capital, the worst in a century, "
        "had left her \u201cshaken\u201d.\n\n")


def test_what_someone_said_quotes_their_words_after_the_sentence_naming_them():
    text = RUIZ + "\u201cWe will rebuild every home, and we will start tomorrow.\u201d\n\nRescue teams worked through the night."
    said = quote(text, "What did Ruiz say about the flooding of the capital?")
    assert said.startswith("Prime Minister Ana Ruiz said") and said.endswith("start tomorrow.\u201d")


@pytest.mark.parametrize("after, question", [
    ("\u201cThe government ignored every warning,\u201d said opposition leader Marta Gil.",  # another speaker
     "What did Ruiz say about the flooding of the capital?"),
    ("\u201cWe will rebuild every home, and we will start tomorrow.\u201d",  # no one's words asked
     "What happened to the flooding of the capital?"),
    ("\u201cWe will rebuild every home, " + "street by street, " * 25 + "and start tomorrow.\u201d",  # too long with it
     "What did Ruiz say about the flooding of the capital?"),
])
def test_the_sentence_after_is_quoted_only_when_it_gives_the_words_asked(after, question):
    text = (RUIZ + after + "\n\nRescue teams worked through the night.")
    said = quote(text, question)
    assert RUIZ.split("\n\n")[1] in said and after[:20] not in said


def test_an_exact_phrase_wins():
    text = "Cocoa rose on Monday. Cocoa fell sharply on Tuesday. Traders said little."
    assert "fell sharply" in quote(text, 'cocoa "fell sharply"', phrases=("fell sharply",))


def test_the_committed_model_knows_these_features():
    model = quote_model()
    assert len(model.weights) == len(FEATURES) and model.trained_on


def test_a_question_word_every_sentence_holds_points_at_none_of_them():
    """The story's subject (in every sentence) tells the sentences apart less than the word of
    the question only one of them holds, though the archive weighs them alike."""
    text = ("Leicester won the league on Monday. Leicester fans danced in the streets. "
            "Leicester were 5,000-to-one outsiders, bookmakers said. Leicester will play in Europe.")
    assert "bookmakers" in quote(text, "What odds did bookmakers give Leicester?")
    weights = _story_weights([["leicest", "won"], ["leicest", "fan"], ["leicest", "bookmak"]],
                             {"leicest": 2.0, "bookmak": 2.0, "odd": 3.0})
    assert weights["bookmak"] > weights["leicest"] > 0 and "odd" not in weights


def test_the_words_a_question_shares_with_the_title_name_the_subject_not_the_answer():
    """rest_bm25 and rest_cover weigh only the question's words the story's title does not hold:
    the lead restating the headline scores none, the sentence with what is asked about does."""
    text = ("Leicester won the Premier League title on Monday, after Tottenham drew at Chelsea. "
            "Fans filled the streets of the city. "
            "The club's owners had entrusted the team to manager Claudio Ranieri.")
    question = "Who managed Leicester to the title?"
    weights = dict.fromkeys(ANALYZER.terms(question), 1.0)
    asking = Asking(weights, frozenset(ANALYZER.words(question)), asked_for(question),
                    title_terms=frozenset(ANALYZER.terms("Leicester crowned champions, win the title")))
    windows, features = window_features(text, sentence_spans(text), asking, ANALYZER, None, lead=True)
    single = {a: features[i] for i, (a, b) in enumerate(windows) if a == b}
    rest = FEATURES.index("rest_cover"), FEATURES.index("rest_bm25")
    assert all(single[0][c] == 0 for c in rest) and all(single[2][c] == 1 for c in rest)
    story = FEATURES.index("story_cover")
    assert single[0][story] > single[2][story]


WINDOWS = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3)]


@pytest.mark.parametrize("scores, quoted", [
    ({(1, 1): 5.0}, (1, 1)),  # no other window comes near
    ({(1, 1): 5.0, (0, 1): 5.0 - CLOSE_CALL / 2}, (0, 1)),  # a close call: both sentences
    ({(1, 2): 5.0, (2, 3): 5.0 - CLOSE_CALL / 2}, (1, 3)),  # two pairs overlapping: three sentences
    ({(1, 1): 5.0, (3, 3): 5.0 - CLOSE_CALL / 2}, (1, 1)),  # close, but not running on from it
    ({(1, 2): 5.0, (1, 1): 5.0 - CLOSE_CALL / 2}, (1, 2)),  # inside the best: adds nothing
    ({(1, 1): 5.0, (0, 1): 5.0 - 2 * CLOSE_CALL}, (1, 1)),  # not a close call
])
def test_a_close_call_between_overlapping_windows_quotes_both(scores, quoted):
    all_scores = np.array([scores.get(window, 0.0) for window in WINDOWS])
    sentences = [(0, 40), (41, 80), (81, 120), (121, 160)]
    assert _widened(WINDOWS, all_scores, np.argsort(-all_scores, kind="stable"), sentences) == quoted


LONG_TAIL = (", according to the ministry of finance, which had spent several weeks preparing its own estimates for"
             " the coming fiscal year and would say nothing further about it to reporters who had gathered outside")


def test_a_close_call_too_long_to_quote_whole_is_not_joined():
    """Joined, two long sentences would pass LONG_QUOTE and be cut mid-sentence: the best one is
    quoted whole instead."""
    best = "They said the cocoa harvest is expected to reach 300,000 tonnes" + LONG_TAIL + "."
    text = "".join(["Cocoa growers in Bahia met in Ilheus on Tuesday" + LONG_TAIL + ".", " " + best,
                    " Growers in Bahia had feared drought" + LONG_TAIL + ".", " Rain fell in the south."])
    said = quote(text, "how big is the cocoa harvest in bahia expected to be")
    assert best in said and said.endswith(".")
