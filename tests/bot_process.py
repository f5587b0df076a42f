"""The bot as a real process for end-to-end tests: `python -m bot.cli run` of this checkout,
its settings from the environment, started, killed and stopped like a supervisor would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class BotProcess:
    """`python -m bot.cli run` with its stderr in a file; restarted like a supervisor would."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        # this checkout's bot, whatever an installed copy of the package points to
        self.env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.generation = 0
        self.logs: list[Path] = []
        self.exits: list[int] = []  # exit codes of processes that ended without being told to

    def start(self) -> None:
        self.generation += 1
        log = self.folder / f"bot-{self.generation}.log"
        self.logs.append(log)
        with open(log, "wb") as handle:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=self.folder,
                                            env=self.env, stdout=handle, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart_if_dead(self) -> bool:
        """Start the bot again if it exited by itself (systemd's Restart=on-failure)."""
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.start()
            return True
        return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, then wait for a clean exit (SIGKILL only if it never comes)."""
        self.process.send_signal(signal.SIGTERM)
        for _ in range(600):
            if self.process.poll() is not None:
                return self.process.returncode
            await asyncio.sleep(0.1)
        self.process.kill()
        return self.process.wait()

    def rss(self) -> int | None:
        try:
            return psutil.Process(self.process.pid).memory_info().rss
        except psutil.Error:
            return None
