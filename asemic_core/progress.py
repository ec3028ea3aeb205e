"""The reporter protocol: how long work tells its caller how far it got.

The engine never prints; the CLI passes a terminal bar, the app a Streamlit one.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Reporter(Protocol):
    def start(self, total: int, label: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(self) -> None: ...


class NullReporter:
    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class TerminalReporter:
    """A one-line progress bar on a terminal; plain lines when not a terminal."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self.label = ""
        self.started = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def start(self, total: int, label: str) -> None:
        self.total, self.done, self.label, self.started = max(total, 0), 0, label, time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n) if self.total else self.done + n
        if self.tty:
            self._draw()

    def finish(self) -> None:
        self.done = self.total or self.done
        elapsed = time.monotonic() - self.started
        if self.tty:
            self._draw()
            self.stream.write(f" {elapsed:.1f}s\n")
        else:
            self.stream.write(f"{self.label}: done in {elapsed:.1f}s\n")
        self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        fraction = self.done / self.total if self.total else 0.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label:<32} [{bar}] {fraction * 100:5.1f}%")
        self.stream.flush()
