"""The project's git repository, through the ``git`` command (argument lists, never a shell).

Everything is scoped to the project directory: changes, diffs and commits cover the files
under it, even when it is a subdirectory of a larger repository. Git's own refusals
(identity not set, local changes that a checkout would overwrite, a bad branch name) become
:class:`GitError` with git's message, for the studio to show.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asemic_core.errors import AsemicError

GIT_TIMEOUT_S = 30
# What a project keeps out of version control: the generated model and the local warehouse.
DEFAULT_IGNORES = (".asemic/", "*.duckdb", "*.duckdb.wal", "*.log")

STATUS_NAMES = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "modified",
                "U": "conflict", "?": "untracked"}


class GitError(AsemicError):
    """Git refused or failed; the message is git's own, trimmed."""


@dataclass(frozen=True)
class Change:
    """One file that differs from HEAD (paths relative to the project directory)."""

    path: str
    status: str  # added, modified, deleted, renamed, untracked, conflict
    old_path: str | None = None

    @property
    def label(self) -> str:
        return f"{self.old_path} -> {self.path}" if self.old_path else self.path


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str  # ISO 8601
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]


class GitRepo:
    """The git repository holding ``root`` (or none yet: see :meth:`is_repo` and :meth:`init`)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()

    # -- plumbing ---------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True, ok_codes: tuple[int, ...] = (0,),
             stdin: bytes | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
        try:
            done = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, timeout=GIT_TIMEOUT_S,
                                  check=False, env=env, input=stdin)
        except FileNotFoundError as err:
            raise GitError("git is not installed on this machine (install git to version the config)") from err
        except subprocess.TimeoutExpired as err:
            raise GitError(f"git {args[0]} did not finish within {GIT_TIMEOUT_S} s") from err
        if check and done.returncode not in ok_codes:
            raise GitError(_message(done) or f"git {args[0]} failed with status {done.returncode}")
        return done

    def _out(self, *args: str) -> str:
        return self._run(*args).stdout.decode("utf-8", errors="replace")

    @staticmethod
    def available() -> bool:
        try:
            return subprocess.run(["git", "--version"], capture_output=True, timeout=GIT_TIMEOUT_S,
                                  check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    # -- the repository ---------------------------------------------------------------
    def is_repo(self) -> bool:
        done = self._run("rev-parse", "--is-inside-work-tree", check=False)
        return done.returncode == 0 and done.stdout.strip() == b"true"

    def top(self) -> Path:
        return Path(self._out("rev-parse", "--show-toplevel").strip())

    def init(self, branch: str = "main", ignores: tuple[str, ...] = DEFAULT_IGNORES) -> None:
        """``git init`` in the project directory, with a .gitignore for the model and warehouse."""
        if self.is_repo():
            raise GitError(f"{self.root} is already in the git repository {self.top()}")
        self._run("init", f"--initial-branch={branch}", "--quiet")
        ignore_file = self.root / ".gitignore"
        existing = ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.exists() else []
        missing = [line for line in ignores if line not in existing]
        if missing:
            body = "\n".join([*existing, *missing]) + "\n"
            ignore_file.write_text(body, encoding="utf-8")

    def head(self) -> str | None:
        """The commit at HEAD, None before the first commit."""
        done = self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def branch(self) -> str | None:
        """The current branch (also before the first commit), None on a detached HEAD."""
        done = self._run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def branches(self) -> list[str]:
        names = self._out("for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()
        current = self.branch()
        if current and current not in names:  # a branch without commits yet
            names.append(current)
        return sorted(n for n in names if n)

    # -- changes ----------------------------------------------------------------------
    def changes(self) -> list[Change]:
        """Every file under the project directory that differs from HEAD (staged or not), and
        untracked files (not ignored), by path."""
        prefix = self._out("rev-parse", "--show-prefix").strip()
        raw = self._run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".").stdout
        entries = raw.decode("utf-8", errors="replace").split("\0")
        out: list[Change] = []
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            code, path = entry[:2], entry[3:]
            old = None
            if "R" in code or "C" in code:
                old = entries[i]
                i += 1
            letter = "U" if "U" in code or code in ("AA", "DD") else ("?" if code == "??" else
                                                                    (code[0] if code[0] != " " else code[1]))
            out.append(Change(_relative(path, prefix), STATUS_NAMES.get(letter, "modified"),
                              _relative(old, prefix) if old else None))
        return sorted(out, key=lambda c: c.path)

    def diff(self, change: Change) -> str:
        """The unified diff of one changed file against HEAD (new files against nothing)."""
        if change.status == "untracked" or self.head() is None:
            if change.status == "deleted":
                return ""
            done = self._run("diff", "--no-color", "--no-index", "--", os.devnull, change.path, ok_codes=(0, 1))
            return done.stdout.decode("utf-8", errors="replace")
        paths = [change.path] + ([change.old_path] if change.old_path else [])
        return self._out("diff", "--no-color", "-M", "HEAD", "--", *paths)

    # -- commits ----------------------------------------------------------------------
    def identity(self) -> tuple[str, str] | None:
        """(name, email) that git would record, None when either is not configured."""
        name = self._run("config", "user.name", check=False).stdout.decode().strip()
        email = self._run("config", "user.email", check=False).stdout.decode().strip()
        return (name, email) if name and email else None

    def set_identity(self, name: str, email: str) -> None:
        """Record the author for this repository only (``git config user.name/user.email``)."""
        name, email = name.strip(), email.strip()
        if not name or "@" not in email or any(c in name + email for c in "<>\n"):
            raise GitError("give an author name and an email address (name@example.com)")
        self._run("config", "user.name", name)
        self._run("config", "user.email", email)

    def commit(self, message: str) -> Commit:
        """Stage every change under the project directory and commit it with ``message``."""
        message = message.strip()
        if not message:
            raise GitError("type a commit message: it says what changed and why")
        if not self.changes():
            raise GitError("nothing to commit: no file differs from HEAD")
        if self.identity() is None:
            raise GitError("git does not know who you are: set an author name and email first")
        self._run("add", "--all", "--", ".")
        # The message goes through stdin: any text is fine, nothing is parsed as an option.
        self._run("commit", "--quiet", "--file=-", "--", ".", stdin=message.encode("utf-8"))
        return self.log(1)[0]

    def log(self, limit: int = 20) -> list[Commit]:
        if self.head() is None:
            return []
        sep = "\x1f"
        text = self._out("log", f"--max-count={int(limit)}", f"--format=%H{sep}%an{sep}%aI{sep}%s", "--", ".")
        return [Commit(*line.split(sep, 3)) for line in text.splitlines() if line]

    # -- branches ---------------------------------------------------------------------
    def switch(self, branch: str) -> None:
        """Check out an existing branch; git refuses when local changes would be overwritten."""
        if branch not in self.branches():
            raise GitError(f"there is no branch {branch!r} (branches: {', '.join(self.branches()) or 'none'})")
        self._run("switch", "--quiet", branch)

    def create_branch(self, name: str) -> None:
        """Create ``name`` from the current commit and switch to it (local changes come along)."""
        name = name.strip()
        if not name or name.startswith("-"):
            raise GitError(f"invalid branch name {name!r}")
        checked = self._run("check-ref-format", "--branch", name, check=False)
        if checked.returncode != 0:
            raise GitError(f"invalid branch name {name!r}: no spaces, '..', '~', '^', ':', '?', '*' or '['")
        if name in self.branches():
            raise GitError(f"the branch {name!r} already exists: switch to it instead")
        self._run("switch", "--quiet", "--create", name)


def git_summary(root: str | os.PathLike) -> str | None:
    """One line for the studio's sidebar: branch and number of changed files; None outside git."""
    repo = GitRepo(root)
    try:
        if not repo.is_repo():
            return None
        changed = len(repo.changes())
        branch = repo.branch() or "detached HEAD"
    except GitError:
        return None
    return f":material/account_tree: Branch **{branch}**" + (f", {changed} changed file(s)" if changed else "")


def _relative(path: str, prefix: str) -> str:
    return path[len(prefix):] if prefix and path.startswith(prefix) else path


def _message(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or done.stdout).decode("utf-8", errors="replace").strip()
    lines = [line.removeprefix("error: ").removeprefix("fatal: ") for line in text.splitlines()
             if line.strip() and not line.startswith("hint:")]
    return "\n".join(lines[:12])
