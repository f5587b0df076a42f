"""What every benchmark here shares: child processes measured, percentiles, the questions, the
archive built by `archive-bot ingest`, and the line that says which machine and code ran.

`run_child` runs a command in a process of its own and measures its wall time and peak RSS (the
summed resident set of the process and its descendants, sampled every 50 ms, and the process's own
high-water mark, VmHWM, when it reports it as `hwm_mb`, as the engines' children do). The kernel's
maximum from wait4 is not used: a child started by vfork and exec keeps the larger of its parent's
peak and its own, so it floored every small engine at the bench's own RSS.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.corpus import ROOT, Corpus, source_records

QUESTIONS = Path(__file__).with_name("questions.txt")
CHILD_TIMEOUT = 3 * 3600


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the questions and the figures made of them

def load_questions(path: Path = QUESTIONS) -> list[str]:
    questions = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [q for q in questions if q and not q.startswith("#")]


def sample_indices(count: int, size: int) -> list[int]:
    """`size` questions spread evenly over the set, deterministic."""
    size = max(0, min(size, count))
    if size == 0:
        return []
    return sorted({int(i * count / size) for i in range(size)})


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


# ---------------------------------------------------------------------------------------------
# running a phase in a process of its own

@dataclass
class ChildRun:
    result: dict
    wall_s: float
    peak_rss_mb: float
    returncode: int


class RSSSampler(threading.Thread):
    """The peak of the summed RSS of a process and its descendants, sampled."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.done.wait(self.interval)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_child(argv: list[str], out: Path | None = None, env: dict | None = None,
              timeout: float = CHILD_TIMEOUT) -> ChildRun:
    """Run `argv` (its stdout goes to our stderr) and measure its wall time and peak RSS."""
    if out is not None and out.exists():
        out.unlink()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr,
                            env={**os.environ, **(env or {})})
    sampler = RSSSampler(proc.pid)
    sampler.start()
    timer = threading.Timer(timeout, _kill, (proc.pid,))  # the pid stays ours until wait4 reaps it
    timer.start()
    try:
        _, status, _ = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out.read_text()) if out is not None and out.is_file() else {}
    peak = max(sampler.peak / 2**20, result.get("hwm_mb") or 0.0)
    if proc.returncode != 0:
        log(f"{' '.join(map(str, argv[:6]))} ... exited with {proc.returncode}")
    return ChildRun(result, wall, peak, proc.returncode)


def own_peak_mb() -> float | None:
    """This process's own peak resident set since it started (VmHWM), MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------------------------
# the archive

def retrieval_settings():
    from bot.config import load_settings

    return load_settings().retrieval


def fresh_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    for folder in path.parent.glob(f"{path.name}.snapshot-*"):  # the index arrays saved beside it
        shutil.rmtree(folder, ignore_errors=True)


def _archive_bot() -> list[str]:
    script = Path(sys.executable).with_name("archive-bot")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def ingest_archive(corpus: Corpus, db: Path) -> ChildRun:
    fresh_db(db)
    return run_child([*_archive_bot(), "--db", str(db), "ingest", str(corpus.path)])


def archive_of(workdir: Path) -> Path:
    """The archive the retrieval bench builds, which the bot bench reuses."""
    return workdir / "ours.sqlite"


def note_archive(workdir: Path, corpus: Corpus) -> None:
    """Say that `archive_of(workdir)` holds `corpus`, ingested whole."""
    (workdir / "ours.manifest.json").write_text(json.dumps({"corpus": str(corpus.path)}))


def archive_holds(workdir: Path, corpus: Corpus) -> bool:
    """Whether `archive_of(workdir)` holds `corpus` (as `note_archive` said)."""
    manifest = workdir / "ours.manifest.json"
    return manifest.is_file() and json.loads(manifest.read_text()).get("corpus") == str(corpus.path) \
        and archive_of(workdir).is_file()


def reload_stories(count: int = 100) -> list[dict]:
    """`count` stories new to the archive: Reuters stories under new ids and titles."""
    records = [r for r in source_records() if len(r.get("body", "")) > 400][:count]
    return [{**r, "id": f"{r['id']}~reload", "title": f"{r.get('title', '')} (reloaded)"} for r in records]


def write_reload_stories(path: Path) -> None:
    """The 100 new stories of a reload, as the JSON lines file `path`."""
    path.write_text("".join(json.dumps(r) + "\n" for r in reload_stories()), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# which machine, which code

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        pass
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Machine: {os.cpu_count()} cores ({cpu}){mem}; load average {load} at the end; "
            f"Python {platform.python_version()}; code {revision()}; "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")


def revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "retrieval", "bot"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"
