"""Snapshots: saved with the archive, updated in place on reload, always equal to a fresh build."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import shutil
import sqlite3
import threading
import weakref
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from retrieval.bm25 import mapped
from retrieval.bm25.postings import Postings
import retrieval.service as service_module
from retrieval.service import ArchiveService
from retrieval.answer.spelling import variants
from retrieval.snapshot import FORMAT, _built, _headers_of, _untracked, saved_copy
from retrieval.storage import arrays as array_files
from retrieval.storage.schema import PassageColumns

QUESTIONS = ["cocoa Bahia arrivals", "NATO Ukraine Russia", "coffee export quota", "oil price", "story 4 cocoa"]


def write_jsonl(path, stories):
    path.write_text("".join(json.dumps(s) + "\n" for s in stories), encoding="utf-8")


def story(i, body, day="1987-03-01"):
    return {"id": f"s{i}", "title": f"Story {i}", "date": day, "body": body}


def rankings(service):
    """Passages, then stories by title, ranked for each question."""
    return ranked(service.snapshot, service.analyzers.main)


def ranked(snapshot, analyzer):
    return [(h.docs.tolist(), h.scores.tolist()) for q in QUESTIONS for h in
            (snapshot.search(analyzer.terms(q)), snapshot.titles.search(analyzer.terms(q)))]


async def fresh_rankings(service):
    rows = await service.store.passage_rows()
    headers = {row[0]: row for row in await service.store.story_headers()}
    columns = PassageColumns.from_rows(rows)
    headed = _headers_of([headers[h.id] for h in service.snapshot.stories], service.settings.bm25)
    rebuilt = _built(*headed, columns, Postings.from_texts(columns.texts), service.settings.bm25, 0,
                     service.snapshot.key)
    ordered = {pid: i for i, pid in enumerate(service.snapshot.passage_ids.tolist())}
    assert [r[0] for r in rows] == sorted(ordered), "same passages"
    assert list(rebuilt.stories) == list(service.snapshot.stories)
    assert rebuilt.story_day.tolist() == service.snapshot.story_day.tolist()
    assert rebuilt.languages == service.snapshot.languages
    return ranked(rebuilt, service.analyzers.main)


async def test_reloads_update_the_snapshot_as_a_fresh_build_would(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}.\n\nOil price rose {i} pct.")
                                     for i in range(20)])
    write_jsonl(folder / "b.jsonl", [story(100 + i, f"Coffee export quota talks {i}.\n\nNATO and Ukraine {i}.")
                                     for i in range(10)])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        await service.ingest([folder])
        assert rankings(service) == await fresh_rankings(service)

        # change some stories, add others, remove a file's stories
        write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}. Russia said.")
                                         for i in range(0, 20, 2)] + [story(50, "Oil price fell.", "1987-04-02")])
        (folder / "b.jsonl").unlink()
        report = await service.ingest([folder], prune=True)
        assert (report.added, report.updated, report.removed) == (1, 10, 20)
        assert rankings(service) == await fresh_rankings(service)

        # a title changes: the title index is built again
        retitled = {**story(50, "Oil price fell."), "title": "Cocoa"}
        write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}. Russia said.")
                                         for i in range(0, 20, 2)] + [retitled])
        await service.ingest([folder], prune=True)
        assert rankings(service) == await fresh_rankings(service)

        # only new stories: the rest is carried over
        write_jsonl(folder / "b.jsonl", [story(200, "NATO and Ukraine talks.", None), story(201, "Tin.", "1987-05-01")])
        report = await service.ingest([folder], prune=True)
        assert (report.added, report.updated, report.removed) == (2, 0, 0)
        assert rankings(service) == await fresh_rankings(service)
    finally:
        await service.close()


async def saved_cocoa_archive(tmp_path) -> list:
    """An archive of five cocoa stories at tmp_path / "a.sqlite", ingested and closed: its rankings."""
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}.") for i in range(5)])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    await service.ingest([folder])
    before = rankings(service)
    await service.close()
    return before


async def test_an_archive_reopens_from_its_saved_snapshot(tmp_path, monkeypatch):
    before = await saved_cocoa_archive(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("the saved snapshot should be used, not a rebuild")

    monkeypatch.setattr("retrieval.snapshot._built", refuse)
    monkeypatch.setattr("retrieval.snapshot._updated", refuse)
    reopened = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        assert rankings(reopened) == before
        assert np.array_equal(reopened.snapshot.passage_story, np.arange(5))
    finally:
        await reopened.close()


async def test_a_reload_whose_snapshot_cannot_be_saved_still_answers_from_it(tmp_path, monkeypatch):
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(1, "Cocoa arrivals in Bahia rose.")])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    await service.ingest([folder])
    write_jsonl(folder / "b.jsonl", [story(2, "Coffee quotas were suspended.")])

    async def disk_full(generation, blobs, arrays):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(service.store, "save_index", disk_full)
    report = await service.ingest([folder])
    assert report.added == 1
    assert (await service.ask("coffee quotas")).citations[0].story_id == "s2"
    await service.close()
    reopened = await ArchiveService.open(tmp_path / "a.sqlite")  # indexes what the file holds
    try:
        assert (await reopened.ask("coffee quotas")).citations[0].story_id == "s2"
    finally:
        await reopened.close()


def bahia_weeks():
    """Five stories of cocoa arrivals, a week each."""
    return [story(i, f"Cocoa arrivals in Bahia week {i}.") for i in range(5)]


@contextlib.asynccontextmanager
async def ingested(tmp_path, stories):
    """An archive in `tmp_path` with `stories` ingested from the folder `archive/` (as a.jsonl):
    the service and the folder, the service closed after."""
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", stories)
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        await service.ingest([folder])
        yield service, folder
    finally:
        await service.close()


async def test_best_passages_of_stories_after_reloads(tmp_path):
    async with ingested(tmp_path, [story(i, "First part.\n\nSecond part.") for i in range(4)]) as (service, folder):
        write_jsonl(folder / "a.jsonl", [story(i, "Changed.\n\nAgain." if i == 1 else "First part.\n\nSecond part.")
                                         for i in range(4)])
        await service.ingest([folder])  # story 1's passages move to the end
        snapshot = service.snapshot
        terms = snapshot.index.postings.terms
        for chosen in ([0], [1], [3, 1], []):
            best, _, _ = snapshot.best_passages(terms, np.asarray(chosen, dtype=np.int64), None)
            expected = [snapshot.index.search(terms, snapshot.passage_story == s).docs[0] for s in chosen]
            assert best.tolist() == expected


async def test_a_changed_analyzer_rebuilds_instead_of_loading(tmp_path):
    from retrieval.service import RetrievalSettings

    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(1, "The running of the bulls.")])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    await service.ingest([folder])
    assert "run" in service.snapshot.index.vocabulary
    await service.close()
    plain = await ArchiveService.open(tmp_path / "a.sqlite", RetrievalSettings(language="porter"))
    try:
        assert plain.snapshot.key != service.snapshot.key
        assert plain.snapshot.passages == 1
    finally:
        await plain.close()


# Postings ----------------------------------------------------------------------------------------

DOCUMENTS = st.lists(st.lists(st.sampled_from(["cocoa", "bahia", "oil", "nato", "u.s", "6.4", "ß"]), max_size=8),
                     max_size=12)


def inverted(postings: Postings) -> dict[str, list[tuple[int, int]]]:
    """term -> [(passage, tf)], as plain lists."""
    return {term: list(zip(postings.docs[lo:hi].tolist(), postings.tfs[lo:hi].tolist()))
            for term, lo, hi in zip(postings.terms, postings.offsets[:-1].tolist(), postings.offsets[1:].tolist())}


def counted(documents: list[list[str]]) -> dict[str, list[tuple[int, int]]]:
    """The definition: for each term in the order first seen, its passages and counts."""
    lists: dict[str, list[tuple[int, int]]] = {}
    for doc, tokens in enumerate(documents):
        for term, tf in Counter(tokens).items():
            lists.setdefault(term, []).append((doc, tf))
    return lists


@given(DOCUMENTS)
def test_postings_count_each_term_per_passage(documents):
    postings = Postings.from_documents(documents)
    assert list(inverted(postings).items()) == list(counted(documents).items())
    assert postings.doc_lengths.tolist() == [len(d) for d in documents]
    from_texts = Postings.from_texts([" ".join(d) for d in documents])
    assert (list(from_texts.terms), inverted(from_texts)) == (postings.terms, inverted(postings))


@given(DOCUMENTS, DOCUMENTS, st.data())
def test_postings_updated_in_place_equal_a_fresh_build(old, new, data):
    keep = data.draw(st.lists(st.booleans(), min_size=len(old), max_size=len(old)))
    updated = Postings.from_documents(old).without(np.asarray(keep, dtype=bool)).plus(Postings.from_documents(new))
    fresh = Postings.from_documents([d for d, k in zip(old, keep) if k] + new)
    assert inverted(updated) == inverted(fresh)
    assert updated.doc_lengths.tolist() == fresh.doc_lengths.tolist()
    kept = [term for term in Postings.from_documents(old).terms if any(term in d for d, k in zip(old, keep) if k)]
    assert list(updated.terms) == kept + [term for term in dict.fromkeys(t for d in new for t in d) if term not in kept]


@given(DOCUMENTS, DOCUMENTS)
def test_postings_of_texts_appended_to_equal_those_of_lists(old, new):
    as_texts = Postings.from_texts([" ".join(d) for d in old]).plus(Postings.from_texts([" ".join(d) for d in new]))
    as_lists = Postings.from_documents(old).plus(Postings.from_documents(new))
    assert (list(as_texts.terms), inverted(as_texts)) == (list(as_lists.terms), inverted(as_lists))
    assert [as_texts.terms.index_of(term) for term in as_lists.terms] == list(range(len(as_lists.terms)))


async def test_changing_the_last_story_written_updates_the_snapshot_as_a_fresh_build_would(tmp_path):
    stories = [story(i, f"Oil price rose {i} pct.\n\nCocoa arrivals in Bahia.") for i in range(3)]
    async with ingested(tmp_path, stories) as (service, folder):
        write_jsonl(folder / "a.jsonl", [story(i, f"Oil price rose {i} pct.\n\nCocoa arrivals in Bahia.")
                                         for i in range(2)] + [story(2, "NATO and Ukraine.")])
        await service.ingest([folder])
        assert rankings(service) == await fresh_rankings(service)
        assert service.snapshot.passages == 5
        assert [s.id for s in service.snapshot.stories] == ["s0", "s1", "s2"]


def snapshot_folders(tmp_path):
    return sorted(path.name for path in tmp_path.iterdir() if ".snapshot-" in path.name)


async def test_a_reopened_archive_maps_its_saved_arrays_and_keeps_one_folder(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}.") for i in range(5)])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    await service.ingest([folder])
    write_jsonl(folder / "b.jsonl", [story(9, "Coffee quotas were suspended.")])
    await service.ingest([folder])
    before = rankings(service)
    await service.close()
    (saved,) = snapshot_folders(tmp_path)  # the older generations' folders are gone
    reopened = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        index = reopened.snapshot.index
        for array in (index.postings.docs, index.gains, index.bounds.maxes, reopened.snapshot.passage_story):
            assert isinstance(array.base, np.memmap), "mapped, not read into memory"
            assert np.ascontiguousarray(array) is array
        assert rankings(reopened) == before
        assert snapshot_folders(tmp_path) == [saved]
    finally:
        await reopened.close()


async def test_a_missing_or_damaged_saved_index_is_rebuilt_from_the_archive(tmp_path, caplog):
    before = await saved_cocoa_archive(tmp_path)
    (saved,) = snapshot_folders(tmp_path)
    docs = tmp_path / saved / "docs.npy"
    docs.write_bytes(docs.read_bytes()[:-4])  # cut short
    for damage in ("cut short", "gone"):
        reopened = await ArchiveService.open(tmp_path / "a.sqlite")
        try:
            assert rankings(reopened) == before
            assert "cannot be used" in caplog.text
            assert [name != saved for name in snapshot_folders(tmp_path)] == [True], "rebuilt and saved again"
        finally:
            await reopened.close()
        caplog.clear()
        (saved,) = snapshot_folders(tmp_path)
        shutil.rmtree(tmp_path / saved)


async def test_a_snapshot_whose_story_columns_do_not_fit_together_is_rebuilt(tmp_path, caplog):
    before = await saved_cocoa_archive(tmp_path)
    (saved,) = snapshot_folders(tmp_path)
    bounds = tmp_path / saved / "story_ids_bounds.npy"
    np.save(bounds, np.load(bounds) * 1000)  # the same dtype and shape, pointing past the pool
    reopened = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        assert rankings(reopened) == before
        assert "do not fit together" in caplog.text
        assert [name != saved for name in snapshot_folders(tmp_path)] == [True], "rebuilt and saved again"
    finally:
        await reopened.close()


async def test_a_snapshot_of_an_older_format_is_rebuilt_and_saved_anew(tmp_path):
    before = await saved_cocoa_archive(tmp_path)
    with sqlite3.connect(tmp_path / "a.sqlite") as db:  # what FORMAT 3 saved: terms and story ids as blobs
        (meta,) = db.execute("SELECT data FROM snapshot_blobs WHERE name = 'meta'").fetchone()
        old = json.loads(meta)
        old.update(format=3, key=old["key"].replace(f"format={FORMAT}", "format=3"))
        db.execute("UPDATE snapshot_blobs SET data = ? WHERE name = 'meta'", (json.dumps(old).encode(),))
        db.executemany("INSERT INTO snapshot_blobs VALUES (?, ?)", [("terms", b"cocoa\nbahia"), ("story_ids", b"[]")])
    reopened = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        assert rankings(reopened) == before
        assert reopened.snapshot.key.endswith(f"format={FORMAT}")
    finally:
        await reopened.close()
    with sqlite3.connect(tmp_path / "a.sqlite") as db:
        assert {name for (name,) in db.execute("SELECT name FROM snapshot_blobs")} == {"meta", "files"}


async def test_after_a_reload_the_saved_copy_is_served_mapped(tmp_path):
    async with ingested(tmp_path, bahia_weeks()) as (service, folder):
        write_jsonl(folder / "b.jsonl", [story(9, "Coffee quotas were suspended in Bahia.")])
        await service.ingest([folder])
        snapshot = service.snapshot
        for array in (snapshot.index.gains, snapshot.titles.postings.docs, snapshot.stories.digests):
            assert isinstance(array.base, np.memmap), "the saved copy, not the one built in memory"
        assert rankings(service) == await fresh_rankings(service)
        terms = ["cocoa", "bahia", "coffe", "stori", "unheard"]
        for term in terms:
            assert [snapshot.holds(s, term) for s in range(len(snapshot.stories))] == \
                snapshot.stories_with(term).tolist()
        some = np.asarray([5, 0, 3, 0])
        assert snapshot.held_by(terms, some).tolist() == [snapshot.stories_with(t)[some].tolist() for t in terms]
        assert snapshot.held_by([], some).shape == (0, 4) and snapshot.held_by(terms, []).shape == (5, 0)



async def test_a_reload_decodes_only_the_new_terms_of_a_decoded_vocabulary(tmp_path):
    async with ingested(tmp_path, bahia_weeks()) as (service, folder):
        assert "cocoa" in service.snapshot.vocabulary  # decoded, as a question to respell does
        write_jsonl(folder / "b.jsonl", [story(9, "Coffee quotas were suspended in Bahia.")])
        await service.ingest([folder])
        assert "vocabulary" in service.snapshot.__dict__, "taken over from the snapshot before"
        assert service.snapshot.vocabulary.tolist() == service.snapshot.index.postings.terms.tolist()
        (folder / "a.jsonl").unlink()  # some terms go: decoded afresh, when asked for
        await service.ingest([folder], prune=True)
        assert "vocabulary" not in service.snapshot.__dict__
        assert service.snapshot.vocabulary.tolist() == service.snapshot.index.postings.terms.tolist()


async def test_the_decoded_vocabulary_is_an_array_no_collection_visits(tmp_path):
    async with ingested(tmp_path, bahia_weeks()) as (service, folder):
        vocabulary = service.snapshot.vocabulary
        assert vocabulary.dtype == object and not gc.is_tracked(vocabulary) and gc.get_referents(vocabulary) == []
        assert vocabulary.tolist() == service.snapshot.index.postings.terms.tolist()
        write_jsonl(folder / "b.jsonl", [story(9, "Coffee quotas were suspended in Bahia.")])
        await service.ingest([folder])
        assert "vocabulary" in service.snapshot.__dict__ and not gc.is_tracked(service.snapshot.vocabulary)


@given(st.lists(st.text("abcdez", min_size=1, max_size=9), max_size=40),
       st.text("abcdez", min_size=5, max_size=9))
def test_spelling_variants_are_the_same_in_an_array_as_in_a_list(words, term):
    assert variants(term, _untracked(words)) == variants(term, words)


async def test_a_reload_lets_the_snapshot_it_built_go_on_a_thread_of_its_own(tmp_path, monkeypatch):
    folder = tmp_path / "archive"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(i, f"Cocoa arrivals in Bahia week {i}.") for i in range(5)])
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    dropped = []

    async def noting(store, snapshot, params):
        weakref.finalize(snapshot, lambda: dropped.append(threading.current_thread().name))
        return await saved_copy(store, snapshot, params)

    monkeypatch.setattr(service_module, "saved_copy", noting)
    try:
        await service.ingest([folder])
        for _ in range(100):
            if dropped:
                break
            await asyncio.sleep(0.02)
        assert dropped == ["let-go"]
        assert isinstance(service.snapshot.index.gains.base, np.memmap), "the saved copy"
    finally:
        await service.close()


async def test_a_build_and_a_reload_link_their_largest_arrays_into_the_saved_folder(tmp_path, monkeypatch):
    written = []
    real_save = array_files._save
    monkeypatch.setattr(array_files, "_save", lambda file, array: (written.append(file.name), real_save(file, array)))
    async with ingested(tmp_path, bahia_weeks()) as (service, folder):
        write_jsonl(folder / "b.jsonl", [story(9, "Coffee quotas were suspended in Bahia.")])
        await service.ingest([folder])
        (saved,) = snapshot_folders(tmp_path)  # the scratch folders are gone too
        assert rankings(service) == await fresh_rankings(service)
    by_save = {}  # the files each save wrote, by its generation: the empty archive's, the build's, the reload's
    for name in written:
        by_save.setdefault(int(Path(name).parent.name.split("-")[1]), set()).add(Path(name).name)
    _, build, reload = (by_save[generation] for generation in sorted(by_save))
    assert "gains.npy" not in build and {"docs.npy", "passage_story.npy"} <= build, "the build's gains linked"
    assert not reload & {"docs.npy", "tfs.npy", "gains.npy", "titles_docs.npy"}, "the reload's postings linked"
    assert (tmp_path / saved / "docs.npy").stat().st_nlink == 1


def test_an_array_whose_mapped_file_is_gone_is_written(tmp_path):
    archive = tmp_path / "a.sqlite"
    with array_files.scratch(archive) as scratch, mapped.files_in(scratch):
        linked, gone, empty = mapped.empty(5, np.int32), mapped.empty(3, np.float64), mapped.empty(0, np.int32)
        linked[:], gone[:] = np.arange(5), 0.5
        Path(gone.base.filename).unlink()
        description = array_files.write(archive, 1, {"linked": linked, "gone": gone, "empty": empty})
        assert (tmp_path / description["folder"] / "linked.npy").stat().st_nlink == 2  # and the scratch file
    saved = array_files.mapped(archive, description)
    assert saved["linked"].tolist() == list(range(5)) and saved["gone"].tolist() == [0.5] * 3
    assert saved["empty"].tolist() == []
    assert [path.name for path in tmp_path.iterdir()] == [description["folder"]]


def test_arrays_stay_in_memory_where_their_files_cannot_be_made(tmp_path, monkeypatch):
    """A full disk found when the file's blocks are taken, not later by a write to the mapping
    (which would kill the process); a folder that cannot be made beside the archive."""
    def full(fd, offset, length):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(mapped.os, "posix_fallocate", full)
    with array_files.scratch(tmp_path / "a.sqlite") as scratch, mapped.files_in(scratch):
        array = mapped.empty(4, np.int64)
        array[:] = 7
        assert not isinstance(array.base, np.memmap) and list(scratch.iterdir()) == []
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder", encoding="utf-8")
    with array_files.scratch(blocked / "a.sqlite") as scratch:
        assert scratch is None
