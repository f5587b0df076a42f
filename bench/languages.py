"""Telling languages apart: how often each detector names the right language, on the stories and
questions of the development sets, with what it costs to load and to run.

    python -m bench.languages [--reuters 3000]

The archive's own `detect` (script, then the main language's stopwords, then py3langid) against
py3langid alone, and lingua (high and low accuracy) when it is installed. Reads
../shared/data/news-ml-dev (languages from its sources.tsv and questions.jsonl), news-dev and a
sample of Reuters (English) at run time.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator

import psutil

from bench.corpus import ROOT
from retrieval.ingest.formats import archive_files, read_file
from retrieval.models import Article
from retrieval.text.analysis import Analyzers
from retrieval.text.languages import SAMPLE_CHARS, analyzable, detect

LANGUAGES = ("en", "ru", "ar", "fa", "fr", "es", "ur", "de")
Item = tuple[str, str, str]  # (what: story or question, language, text)


def items(reuters: int) -> list[Item]:
    """The texts to tell apart, each with its language."""
    data = ROOT.parent / "shared" / "data"
    ml = data / "news-ml-dev"
    with open(ml / "sources.tsv", encoding="utf-8") as file:
        language = {row["story_code"]: row["lang"] for row in csv.DictReader(file, delimiter="\t")}
    found: list[Item] = [("story", language[a.id], f"{a.title}\n{a.body}") for a in _articles(ml / "archive")]
    found += [("story", "en", f"{a.title}\n{a.body}") for a in _articles(data / "news-dev" / "archive")]
    with gzip.open(data / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as file:
        for line in itertools.islice(file, reuters):
            record = json.loads(line)
            found.append(("story", "en", f"{record['title']}\n{record['body']}"))
    for path, fixed in ((ml / "questions.jsonl", None), (data / "news-dev" / "questions.jsonl", "en")):
        with open(path, encoding="utf-8") as file:
            found += [("question", fixed or q["lang"], q["q"]) for q in map(json.loads, file)]
    return found


def _articles(folder) -> Iterator[Article]:
    for path in archive_files([folder]):
        yield from (r for r in read_file(path) if isinstance(r, Article))


def detectors() -> dict[str, Callable[[], Callable[[str], str]]]:
    """Each detector's loader: what it returns names a text's language."""
    def ours():
        stopwords = Analyzers().main.stopwords
        return lambda text: detect(text, "en", stopwords)

    def py3langid():
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(sorted(analyzable()))
        return lambda text: identifier.classify(text[:SAMPLE_CHARS])[0]

    def lingua(low: bool):
        def load():
            from lingua import IsoCode639_1, LanguageDetectorBuilder
            codes = [getattr(IsoCode639_1, code.upper()) for code in sorted(analyzable())
                     if hasattr(IsoCode639_1, code.upper())]  # lingua knows no Nepali
            builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            built = (builder.with_low_accuracy_mode() if low else builder).with_preloaded_language_models().build()
            return lambda text: (found.iso_code_639_1.name.lower()
                                 if (found := built.detect_language_of(text[:SAMPLE_CHARS])) else "?")
        return load

    return {"archive-bot detect": ours, "py3langid": py3langid,
            "lingua, low accuracy": lingua(True), "lingua": lingua(False)}


def measure(load: Callable[[], Callable[[str], str]], texts: list[Item]) -> dict | None:
    process = psutil.Process(os.getpid())
    before, started = process.memory_info().rss, time.perf_counter()
    try:
        name = load()
    except ImportError:
        return None
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    wrong = Counter((what, language) for what, language, text in texts if name(text) != language)
    return {"load_s": loaded, "ms_per_text": (time.perf_counter() - started) * 1000 / len(texts),
            "rss_mb": (process.memory_info().rss - before) / 2**20, "wrong": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.languages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuters", type=int, default=3000, help="Reuters stories in the sample (default 3000)")
    texts = items(parser.parse_args().reuters)
    counts = Counter((what, language) for what, language, _ in texts)
    groups = sorted(counts, key=lambda g: (g[0], LANGUAGES.index(g[1]) if g[1] in LANGUAGES else 99))
    print("| detector | load s | ms a text | RSS MB | " + " | ".join(f"{w[0]} {l} ({counts[w, l]})" for w, l in groups) + " |")
    print("|---" * (4 + len(groups)) + "|")
    for label, load in detectors().items():
        figures = measure(load, texts)
        if figures is None:
            print(f"| {label} | not installed |" + " |" * (2 + len(groups)))
            continue
        wrong = " | ".join(str(figures["wrong"][group]) for group in groups)
        print(f"| {label} | {figures['load_s']:.2f} | {figures['ms_per_text']:.3f} | {figures['rss_mb']:.0f} | {wrong} |")
    print("\nCells: texts given the wrong language (s: stories, q: questions; how many in brackets).")


if __name__ == "__main__":
    main()
