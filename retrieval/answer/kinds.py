"""What a question asks for, and whether a sentence holds it.

A rule table in the spirit of Li & Roth's question classes: the question's first words say
whether it asks for a person or organisation (who, which official...), an amount (how much, how
many, what share...), a point in time (when, what date...), a place, a reason (why), someone's
words (what did X say, how did X describe...) or a yes or no. A sentence holds the answer when it
holds something of that type that the question does not already say: a name the question does
not name, a number it does not give, a date, a quotation.

Interrogatives are a closed class in every language, so the table lists them for the languages
of the archive's source site; a question it cannot place asks for nothing in particular.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache

from retrieval.text.analysis import Analyzer
from retrieval.text.dates import calendar_names
from retrieval.text.languages import ENGLISH, fold
from retrieval.text.sentences import sentence_spans


class Asked(str, Enum):
    """The type of thing a question asks for."""

    PERSON = "person"
    AMOUNT = "amount"
    TIME = "time"
    PLACE = "place"
    REASON = "reason"
    WORDS = "words"
    YES_NO = "yes_no"
    OTHER = "other"


_SPEAK = r"(?:say|said|says|tell|told|describe|described|call|called|promise|promised|warn|warned|write|wrote|" \
         r"announce|announced|reply|replied|claim|claimed)"
"""Verbs a question asks someone's words with."""
_SAY = rf"(?:{_SPEAK}|respond|responded|react|reacted)"
"""Verbs a question asks for someone's words or deeds with ("how did the bank react": a
statement, or a rate cut)."""
_AMOUNT_LEAD = rf"(?:(?!(?:{_SAY}|do|does|did|happen\w*|after|before|with|about|to|from)\b)[\w'’-]+\s+){{0,6}}?"
"""Up to six words between "what" and the noun of an amount ("what was apple's all time high
share price"), none a verb of saying or doing, nor a preposition ("what happened to the ceo after
the fine" asks for no amount)."""
_WHICH = r"(?:which\s+(?:[\w'’-]+\s+){0,3}?|what\s+)"
""""which" and up to three words before the noun that says what it asks for ("which crazy eddie
executive", "which of trump's people"), or "what" right before it ("what city")."""
_ENGLISH_RULES = (
    (Asked.AMOUNT, rf"^\W*(?:how\s+(?:much|many|long|far|old|big|large|high|low|fast|often|tall|deep|heavy|"
                   rf"strong|effective|severe)\b|"
                   rf"what\s+{_AMOUNT_LEAD}(?:share|percentage|percent|%|proportion|price|cost|amount|number|"
                   rf"toll|odds|rate|figure|sum|total|margin|score|age|size|count|tally|magnitude|valuation|"
                   rf"value|worth|fee|fine|salary|budget)\b|what\s*%)"),
    (Asked.WORDS, rf"^\W*(?:what|how)\b.{{0,80}}\b{_SAY}\b|\bwords\b|\bquote[ds]?\b"),
    (Asked.TIME, r"^\W*(?:when\b|(?:by|from|until|since|on|at|in)?\s*what\s+(?:date|day|time|year|month)\b|"
                 r"how\s+soon\b)"),
    (Asked.REASON, r"^\W*(?:why\b|what\s+(?:caused|led|prompted|made|drove)\b|for\s+what\s+reason)"),
    (Asked.PLACE, rf"^\W*(?:where\b|(?:in\s+)?{_WHICH}(?:city|cities|country|countries|town|"
                  rf"towns|place|places|region|regions|venue|venues|state|states|province|provinces)\b)"),
    (Asked.PERSON, rf"^\W*(?:(?-i:(?!WHO\b))who\b|whom\b|whose\b|{_WHICH}(?:man|men|woman|women|person|people|"
                   r"officials?|ministers?|leaders?|judges?|nurses?|doctors?|players?|managers?|coach|coaches|"
                   r"presidents?|ceos?|chiefs?|executives?|directors?|chairman|chairwoman|company|companies|firms?|"
                   r"banks?|groups?|party|parties|teams?|members?|politicians?|advisers?|aid\s+workers?|"
                   r"spokesman|spokeswoman|spokesperson|cardinals?|senators?|generals?|candidates?|rivals?)\b|"
                   r"names?\s+(?:of\s+)?the\b)"),
    (Asked.YES_NO, r"^\W*(?:is|are|was|were|did|does|do|has|have|had|can|could|will|would|should|must)\b"),
)
# Other languages place the question word where its grammar wants it: after a lead-in or in situ
# in French ("les rafales ont atteint combien ?"), before the verb in Urdu and Persian, after a
# preposition in German ("ab wann"). So their rules match anywhere in the question, except for
# words that are also relative pronouns, conjunctions or prepositions (French "qui", "où",
# "quand", "pourquoi", Arabic "من", "لكم"), which count only where they open or end the question,
# and Russian's, which open it but for "сколько" ("до скольких процентов"). Colloquial Persian
# "کی" asks who where it opens the question ("کی گفت"), when elsewhere ("از کی"; "این را کی گفت",
# who, is read wrong). Unaccented Spanish forms ("cuando") are conjunctions, accented ones questions.
_END = r"(?=[\s؟?!.,،؛:»)]|$)"
"""Where a question word of Arabic script ends: a space, its question mark or other punctuation."""
_OTHER_RULES = {
    "ru": ((Asked.AMOUNT, r"\bскольк|\bкакой\s+процент"),
           (Asked.WORDS, r"^\W*что\b.{0,80}(?:сказал|заявил|пообещал|написал|ответил|сообщил)"),
           (Asked.TIME, r"^\W*когда\b|какого\s+числа|в\s+каком\s+году"),
           (Asked.REASON, r"^\W*(?:почему|зачем)\b"),
           (Asked.PLACE, r"^\W*(?:где|куда|откуда)\b"),
           (Asked.PERSON, r"^\W*(?:кто|кого|кому|кем)\b")),
    "ar": ((Asked.AMOUNT, rf"(?:^|\s)(?:كم|كام|لكام){_END}|^\W*(?:لكم|بكم){_END}"),
           (Asked.WORDS, r"^\W*(?:ماذا|ما|شو|ايه)\s.{0,80}(?<![^\W\d_])(?:قال|صرح|أكد|كتب|أعلن)"),
           (Asked.TIME, rf"(?:^|\s)(?:متى|امتى|إمتى){_END}"),
           (Asked.REASON, rf"(?:^|\s)(?:لماذا|ليش|ليه){_END}"),
           (Asked.PLACE, rf"(?:^|\s)(?:أين|وين|فين){_END}"),
           (Asked.PERSON, r"^\W*(?:من|مين)\s")),
    "fa": ((Asked.AMOUNT, rf"(?:^|\s)(?:چند|چقدر){_END}|چه\s+(?:تعداد|میزان|مقدار)"),
           (Asked.WORDS, r"(?:^|\s)(?:چه|چی)\s(?!کس).{0,80}(?<![^\W\d_])(?:گفت(?!گو)|نوشت|اعلام)"),
           (Asked.TIME, rf"چه\s+(?:زمانی|موقع|روزی|تاریخی)|\sکی{_END}"),
           (Asked.REASON, rf"(?:^|\s)چرا{_END}"),
           (Asked.PLACE, r"(?:^|\s)کجا"),
           (Asked.PERSON, r"چه\s+کس|^\W*کی\s")),
    "ur": ((Asked.AMOUNT, rf"(?:^|\s)کتن[اےی]{_END}"),
           (Asked.WORDS, r"کیا\s+کہا"),
           (Asked.TIME, rf"(?:^|\s)کب{_END}"),
           (Asked.REASON, rf"(?:^|\s)کیوں{_END}"),
           (Asked.PLACE, rf"(?:^|\s)کہاں{_END}"),
           (Asked.PERSON, rf"(?:^|\s)(?:کون|کس\s+نے|کسے){_END}")),
    "fr": ((Asked.AMOUNT, r"\bcombien\b|\bquel(?:le)?s?\s+(?:est\s+le\s+)?(?:pourcentage|nombre|montant|prix|taux|bilan)\b"),
           (Asked.WORDS, r"(?:^\W*que\b|^\W*qu['’]).{0,80}\b(?:dit|déclaré|promis|répondu|écrit|annoncé|affirmé|"
                         r"déclare|promet|répond)\b|\b(?:dit|déclaré|promis|répondu|écrit|annoncé|affirmé)\s+quoi\b"),
           (Asked.TIME, r"^\W*quand\b|\bquand\s*\?|\b(?:depuis|jusqu['’]à|dès|à\s+partir\s+de)\s+quand\b|"
                        r"\bquel(?:le)?\s+(?:jour|date|année|mois)\b|à\s+quelle\s+heure"),
           (Asked.REASON, r"^\W*pourquoi\b|\bpourquoi\s*\?"),
           (Asked.PLACE, r"^\W*où\b|\boù\s*\?|\bdans\s+quel(?:le)?\s+(?:ville|pays|région)\b"),
           (Asked.PERSON, r"^\W*qui\b|\bqui\s*\?")),
    "es": ((Asked.AMOUNT, r"\bcuánt[oa]s?\b|^\W*cuant[oa]s?\b|\bqué\s+porcentaje\b"),
           (Asked.WORDS, r"(?:\bqué\b|^\W*que\b).{0,80}\b(?:dijo|declaró|prometió|respondió|escribió|anunció|afirmó|"
                         r"dice)\b"),
           (Asked.TIME, r"\bcuándo\b|^\W*cuando\b|\bqué\s+(?:día|fecha|año)\b"),
           (Asked.REASON, r"\bpor\s*qué\b|^\W*por\s+que\b"),
           (Asked.PLACE, r"\b(?:dónde|adónde)\b|^\W*donde\b"),
           (Asked.PERSON, r"\bquién(?:es)?\b|^\W*quien(?:es)?\b")),
    "de": ((Asked.AMOUNT, r"\bwie\s*(?:viele?|hoch|lange|weit|alt|groß)\b"),
           (Asked.WORDS, r"^\W*was\b.{0,80}\b(?:sagte|sagten|gesagt|sagt|versprach|versprochen|schrieb|erklärte|"
                         r"antwortete)\b"),
           (Asked.TIME, r"\bwann\b"),
           (Asked.REASON, r"\b(?:warum|weshalb|wieso)\b"),
           (Asked.PLACE, r"^\W*wo\b|\b(?:wohin|woher)\b"),
           (Asked.PERSON, r"^\W*(?:wer|wen|wem)\b")),
}
_RULES: dict[str, tuple[tuple[Asked, re.Pattern], ...]] = {
    language: tuple((asked, re.compile(pattern, re.IGNORECASE)) for asked, pattern in rules)
    for language, rules in {ENGLISH: _ENGLISH_RULES, **_OTHER_RULES}.items()}


_LEAD_IN = re.compile(r"^[^,?]{0,60}?(?:[,;]|(?<!\d):(?!\d)|\s[-–—])\s*(?=\w)|"
                      r"^(?:[\w'’.:-]+\s+){1,6}?(?=(?-i:what|which|who|how|when|where|why)\s)", re.IGNORECASE)
"""What comes before the question proper: a clause ("in may 2016, how long ...", "pistorius fired
four times - where was reeva hit") or a few words of topic or date ("on brexit day jan 2020 what
time ...")."""
_CONTRACTED = re.compile(r"\b(what|who|where|when|why|how)(?:'s|’s|s)\b", re.IGNORECASE)


def asked_for(question: str, language: str = ENGLISH) -> Asked:
    """What `question`, in `language`, asks for (OTHER when the table cannot tell: a language
    it does not hold, a question it cannot place)."""
    rules = _RULES.get(language, ())
    question = question.strip()
    if language == ENGLISH:
        question = _CONTRACTED.sub(r"\1 is", question)
    # the other languages' rules find their question words wherever they stand
    for text in _without_lead_ins(question) if language == ENGLISH else (question,):
        for asked, pattern in rules:
            if pattern.search(text):
                return asked
    return Asked.OTHER


_SPEAKER = re.compile(rf"^\W*(?:what|how)(?:['’]s|\s+(?:did|does|do|has|have|had|will|would))\s+"
                      rf"(?P<speaker>(?:[\w'’.-]+\s+){{0,5}}?[\w'’.-]+)\s+{_SPEAK}\b", re.IGNORECASE)
"""A what-did-X-say question and its X: "what did the kremlin spokesman say about ...", "how did
musk describe ...", "what's X said" (not a passive: "what was the ship called")."""
SAYING = (r"said|says|say|told|tells|tell|added|adds|according\s+to|wrote|writes|stated|declared|announced|warned|"
          r"promised|described|called|urged|insisted|explained|noted|argued|replied|responded|tweeted|posted|vowed|"
          r"pledged|admitted|acknowledged|asked|praised|thanked")
"""The verbs by which a story gives someone's words."""
_GIVES_WORDS = re.compile(rf"[\"“”«»„]|\b(?:{SAYING}|statement|speech|address|remarks|interview|message)\b",
                          re.IGNORECASE)
"""What tells that a sentence gives someone's words: quotation marks, a verb of saying, or the
words for a speech."""
_CAPITALISED_RUN = re.compile(r"(?<![\w'’])[^\W\d_a-z][\w'’-]*(?:\.[\w'’-]+)*(?:[ \t]+[^\W\d_a-z][\w'’-]*(?:\.[\w'’-]+)*)*")
"""Capitalised words one after another on a line ("Boris Johnson", "U.S"), a full stop ending
none of them: a run stops at a sentence's end."""


def speaker(question: str, language: str = ENGLISH) -> str | None:
    """Whose words an English what-did-X-say question asks for, as it writes them ("the kremlin
    spokesman"); None for any other question or language."""
    if language != ENGLISH:
        return None
    for text in _without_lead_ins(question.strip()):
        if (match := _SPEAKER.match(text)):
            return match["speaker"]
    return None


def gives_words_of(text: str, names: frozenset[str], analyzer: Analyzer) -> bool:
    """Whether `text` (a story) gives the words of someone the question names by the terms
    `names`: a sentence names them (a word of theirs, or of the run of capitalised words the
    story writes it in: "Mr Johnson" after "Boris Johnson") and gives words (`_GIVES_WORDS`),
    or the sentence after it does."""
    # the whole text read first: most stories never name the speaker, and one reading of it
    # costs less than cutting it into sentences (reading each sentence once instead: 25% slower)
    if not names & set(analyzer.terms(text)):
        return False
    # a run of one word adds no name: only runs of several are read
    names = names | {term for run in _CAPITALISED_RUN.findall(text) if " " in run or "\t" in run
                     if names & set(terms := analyzer.terms(run)) for term in terms}
    sentences = [text[start:end] for start, end in sentence_spans(text)]
    return any(names & set(analyzer.terms(sentence)) and any(_GIVES_WORDS.search(s) for s in sentences[i:i + 2])
               for i, sentence in enumerate(sentences))


def _without_lead_ins(question: str, most: int = 3) -> list[str]:
    """`question`, then it without one lead-in, two, up to `most` ("on 9 may, 2015, where ...")."""
    texts = [question]
    while len(texts) <= most and (shorter := _LEAD_IN.sub("", texts[-1], count=1)) != texts[-1]:
        texts.append(shorter)
    return texts


_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|"
           r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_NUMBER = re.compile(r"(?<![\w.])(?!(?:1[89]|20)\d\d\b)[$€£¥]?\d[\d,.]*+(?:\s*(?:%|per\s*cent|percent|pct|million|mln|billion|bln|"
                     r"trillion|thousand|km|miles?|kg|tonnes?|years?|months?|days?|hours?|minutes?))?"
                     r"(?!(?:st|nd|rd|th|er|re|e|ème|º|ª)\b)|"
                     r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
                     r"thousands?|millions?|billions?|half|third|quarter)\b", re.IGNORECASE)
"""An amount: a number, with its unit if any, not a year nor an ordinal ("1st", "1er", "2nd")."""
CLOCK = (r"\b\d{1,2}(?:[:.]\d{2})?\s*[ap]\.?m\b\.?|\b\d{1,2}:\d{2}\b|\b\d{4}\s*(?:GMT|UTC)\b|"
         r"\b(?:noon|midnight|o['’]clock)\b")
"""A time of day: "4:53 p.m.", "11pm", "0900 GMT", "midnight"."""
_TIME = re.compile(rf"\b(?:(?:1[89]|20)\d\d|(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight|"
                   r"morning|evening|night|earlier|later|ago|last\s+(?:week|month|year)|since|until|"
                   rf"(?:{_MONTHS}))\b|{CLOCK}", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|due\s+to|owing\s+to|as\s+a\s+result|result(?:ed)?\s+(?:of|from)|caused\s+by|"
                     r"citing|reasons?|so\s+that|in\s+order\s+to|aimed\s+at|blamed|linked\s+to|"
                     r"relat\w+\s+to|triggered\s+by|sparked\s+by|(?:in\s+)?response\s+to|in\s+retaliation|protest(?:ing)?\s+(?:against|over)|amid|over\s+(?:his|her|their|its|the)|"
                     r"after\s+(?:being|he|she|it|they|the))\b", re.IGNORECASE)
_CALENDAR = re.compile(rf"(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday)", re.IGNORECASE)
"""Capitalised in English, but dates, not names."""
_QUOTATION = re.compile(r"[\"“”«»„]|(?<![\w.])['‘](?=\w)")
_NAME = re.compile(r"(?<![\w'’])[^\W\d_a-z](?:[^\W\d_]|['’-][^\W\d_])*")
"""A word that may be capitalised (ASCII lowercase initials are skipped by the pattern itself)."""
OPENERS = "\"“«„‘'(:—–-"
_ANSWERS = {Asked.AMOUNT: _NUMBER, Asked.TIME: _TIME, Asked.REASON: _REASON, Asked.WORDS: _QUOTATION}


def answers_held(asked: Asked, sentence: str, question_words: frozenset[str], language: str = ENGLISH) -> int:
    """How many things of the `asked` type `sentence` (in `language`) holds that are not among
    the question's own (case-folded) words: names, amounts, dates, reasons, quotation marks."""
    if asked in (Asked.PERSON, Asked.PLACE):
        return len(new_names(sentence, question_words))
    if language != ENGLISH:
        sentence = fold(sentence, language)  # Persian and Arabic-Indic digits read as numbers
    pattern = _time_in(language) if asked is Asked.TIME else _ANSWERS.get(asked)
    if pattern is None:
        return 0
    return sum(found.casefold().strip() not in question_words for found in pattern.findall(sentence))


@lru_cache(maxsize=None)
def _time_in(language: str) -> re.Pattern:
    """What tells a time in `language`: the English words and years, and the language's own
    month and weekday names (Babel's), in any ending ("в сентябре" for сентябрь)."""
    if language == ENGLISH:
        return _TIME
    names = {fold(name, language).casefold().rstrip(".") for name in calendar_names(language)}
    if not names:  # Babel has no such locale
        return _TIME
    own = "|".join(sorted((re.escape(n[:-1]) + r"\w{0,2}" if len(n) >= 5 else re.escape(n) for n in names if n),
                          key=len, reverse=True))
    return re.compile(rf"{_TIME.pattern}|\b(?:{own})\b", re.IGNORECASE)


def new_names(sentence: str, question_words: frozenset[str]) -> list[str]:
    """The capitalised words of `sentence` that do not open it and that the question does not
    hold, nor lead up to a name it holds ("Sam" of "Sam Altman" when the question names Altman;
    "Judge Mary Smith" still adds a name to "which judge"): names of people, places and
    organisations it adds."""
    words = [m for m in _NAME.finditer(sentence) if m.group(0)[0].isupper()]
    asked = [m.group(0).casefold() in question_words for m in words]
    names = []
    for i, match in enumerate(words):
        word = match.group(0)
        before = sentence[:match.start()].rstrip()
        if not before or before[-1] in OPENERS:
            continue  # capitalised because a sentence or a quotation opens here
        if asked[i] or _CALENDAR.fullmatch(word) or _leads_to_asked(words, asked, i, sentence):
            continue
        names.append(word)
    return names


def _leads_to_asked(words: list[re.Match], asked: list[bool], i: int, sentence: str) -> bool:
    """Whether the capitalised words after `words[i]`, joined to it by spaces or hyphens, reach
    one the question holds: a first name before the surname asked."""
    j = i
    while j + 1 < len(words) and sentence[words[j].end():words[j + 1].start()] in (" ", "-"):
        j += 1
        if asked[j]:
            return True
    return False
