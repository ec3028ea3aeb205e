"""What changed in the config files since a baseline: a saved snapshot or git HEAD.

A baseline is a mapping ``relative path -> text`` of the config files (``asemic.yml`` and
everything under ``userentity/``) as they were; :func:`compare` lines it up with the files
as they are now.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asemic_core.config.archive import config_files
from asemic_core.config.loader import ASEMIC_FILE, ENTITY_DIR

SNAPSHOT_DIR = Path("snapshots") / "last_export"
STAMP_FILE = ".taken_at"
GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str  # "added", "removed", "modified", "unchanged"
    diff: str  # unified diff ("" when unchanged)


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def current_texts(root: Path) -> dict[str, str]:
    """The config files of the project as they are now."""
    return {rel.as_posix(): read_text(root / rel) for rel in config_files(root)}


def unified(old: str | None, new: str | None, path: str, old_label: str = "saved", new_label: str = "now") -> str:
    """A unified diff of one file; a missing side (``None``) reads as an empty file."""
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
        fromfile=f"{path} ({old_label})" if old is not None else "/dev/null",
        tofile=f"{path} ({new_label})" if new is not None else "/dev/null",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def compare(baseline: dict[str, str], current: dict[str, str], old_label: str = "saved") -> list[FileDiff]:
    """One entry per file in either side, in path order."""
    out = []
    for path in sorted(set(baseline) | set(current)):
        old, new = baseline.get(path), current.get(path)
        if old == new:
            out.append(FileDiff(path, "unchanged", ""))
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        out.append(FileDiff(path, status, unified(old, new, path, old_label)))
    return out


# ------------------------------------------------------------------- saved snapshot


def snapshot_dir(model_dir: Path) -> Path:
    return Path(model_dir) / SNAPSHOT_DIR


def write_snapshot(root: Path, model_dir: Path) -> Path:
    """Replace the snapshot with the config files as they are now (atomically swapped in)."""
    target = snapshot_dir(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=target.parent))
    try:
        for rel in config_files(root):
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, staging / rel)
        (staging / STAMP_FILE).write_text(f"{time.time():.3f}\n", encoding="utf-8")
        old = target.with_name(target.name + ".old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def snapshot_texts(model_dir: Path) -> dict[str, str] | None:
    """The config files of the snapshot, or None when no snapshot was taken."""
    target = snapshot_dir(model_dir)
    if not (target / STAMP_FILE).is_file():
        return None
    return {rel.as_posix(): read_text(target / rel) for rel in config_files(target)}


def snapshot_time(model_dir: Path) -> float | None:
    """When the snapshot was taken (epoch seconds), or None."""
    stamp = snapshot_dir(model_dir) / STAMP_FILE
    try:
        return float(stamp.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------- git HEAD


def _git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_head_texts(root: Path) -> dict[str, str] | None:
    """The config files as committed at HEAD, or None when ``root`` is not in a git
    repository with at least one commit (or git is not installed)."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != b"true":
        return None
    if (head := _git(root, "rev-parse", "--verify", "--quiet", "HEAD")) is None or head.returncode != 0:
        return None
    # Paths relative to root, even when root is a subdirectory of the repository.
    listed = _git(root, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", ASEMIC_FILE, ENTITY_DIR)
    if listed is None or listed.returncode != 0:
        return None
    out: dict[str, str] = {}
    for name in listed.stdout.decode("utf-8", errors="replace").split("\0"):
        if not name or any(part.startswith(".") for part in Path(name).parts):
            continue
        shown = _git(root, "show", f"HEAD:./{name}")
        if shown is not None and shown.returncode == 0:
            out[name] = shown.stdout.decode("utf-8", errors="replace")
    return out
