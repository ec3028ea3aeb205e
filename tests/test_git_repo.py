"""The project's git repository: changes against HEAD, diffs, commits, branches, init."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from asemic_core.git_repo import Change, GitError, GitRepo


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True, text=True).stdout


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    root = tmp_path / "project"
    (root / "userentity" / "kpis").mkdir(parents=True)
    (root / "asemic.yml").write_text("name: test\n")
    (root / "userentity" / "kpis" / "a.yml").write_text("kpis:\n  a:\n    x: 1\n")
    (root / "warehouse.duckdb").write_bytes(b"binary")
    repo = GitRepo(root)
    repo.init()
    repo.set_identity("Ana Analyst", "ana@example.com")
    return repo


def test_init_ignores_the_model_and_warehouse_and_lists_config_files(repo):
    assert repo.is_repo() and repo.head() is None and repo.branch() == "main"
    assert repo.branches() == ["main"]
    assert [(c.path, c.status) for c in repo.changes()] == [
        (".gitignore", "untracked"), ("asemic.yml", "untracked"), ("userentity/kpis/a.yml", "untracked")]
    with pytest.raises(GitError, match="already in the git repository"):
        repo.init()


def test_not_a_repository(tmp_path):
    assert not GitRepo(tmp_path).is_repo()


def test_first_commit_then_changes_against_head(repo):
    first = repo.commit("Start the metric library\n\nWith one KPI.")
    assert git(repo.root, "log", "--format=%s|%an|%ae").strip() == "Start the metric library|Ana Analyst|ana@example.com"
    assert first.subject == "Start the metric library" and first.sha == git(repo.root, "rev-parse", "HEAD").strip()
    assert repo.changes() == []
    with pytest.raises(GitError, match="nothing to commit"):
        repo.commit("again")

    (repo.root / "userentity" / "kpis" / "a.yml").write_text("kpis:\n  a:\n    x: 2\n")
    (repo.root / "asemic.yml").unlink()
    (repo.root / "userentity" / "kpis" / "b.yml").write_text("kpis: {}\n")
    assert repo.changes() == [Change("asemic.yml", "deleted"), Change("userentity/kpis/a.yml", "modified"),
                              Change("userentity/kpis/b.yml", "untracked")]
    modified = repo.diff(Change("userentity/kpis/a.yml", "modified"))
    assert "-    x: 1\n+    x: 2\n" in modified
    assert "+kpis: {}" in repo.diff(Change("userentity/kpis/b.yml", "untracked"))
    assert "-name: test" in repo.diff(Change("asemic.yml", "deleted"))

    second = repo.commit("Change a, add b, drop asemic.yml")
    assert repo.changes() == []
    assert [c.subject for c in repo.log()] == ["Change a, add b, drop asemic.yml", "Start the metric library"]
    assert git(repo.root, "show", "--name-status", "--format=", second.sha).split() == [
        "D", "asemic.yml", "M", "userentity/kpis/a.yml", "A", "userentity/kpis/b.yml"]


def test_commit_needs_a_message_and_an_identity(repo, monkeypatch):
    with pytest.raises(GitError, match="type a commit message"):
        repo.commit("   ")
    git(repo.root, "config", "--unset", "user.email")
    monkeypatch.setenv("HOME", str(repo.root.parent))  # no global identity either
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_AUTHOR_EMAIL", raising=False)
    monkeypatch.delenv("GIT_COMMITTER_EMAIL", raising=False)
    assert repo.identity() is None
    with pytest.raises(GitError, match="who you are"):
        repo.commit("message")
    with pytest.raises(GitError, match="email address"):
        repo.set_identity("Ana", "not-an-email")


def test_a_message_that_looks_like_an_option_is_committed_as_written(repo):
    repo.commit("--amend -m 'x'; rm -rf /")
    assert git(repo.root, "log", "--format=%s").strip() == "--amend -m 'x'; rm -rf /"


def test_branches_create_switch_and_refusals(repo):
    repo.commit("first")
    repo.create_branch("feature/arpdau")
    assert repo.branch() == "feature/arpdau" and repo.branches() == ["feature/arpdau", "main"]
    (repo.root / "asemic.yml").write_text("name: on the branch\n")
    repo.commit("rename")
    repo.switch("main")
    assert (repo.root / "asemic.yml").read_text() == "name: test\n"
    repo.switch("feature/arpdau")
    assert (repo.root / "asemic.yml").read_text() == "name: on the branch\n"

    for bad in ("with space", "-x", "a..b", ""):
        with pytest.raises(GitError, match="invalid branch name"):
            repo.create_branch(bad)
    with pytest.raises(GitError, match="already exists"):
        repo.create_branch("main")
    with pytest.raises(GitError, match="no branch 'nope'"):
        repo.switch("nope")
    (repo.root / "asemic.yml").write_text("name: uncommitted\n")
    with pytest.raises(GitError, match="would be overwritten"):
        repo.switch("main")
    assert repo.branch() == "feature/arpdau"


def test_project_in_a_subdirectory_of_the_repository(tmp_path):
    top = tmp_path / "repo"
    (top / "analytics" / "userentity").mkdir(parents=True)
    (top / "README").write_text("outside\n")
    (top / "analytics" / "asemic.yml").write_text("name: sub\n")
    git(top, "init", "--quiet")
    git(top, "config", "user.name", "A")
    git(top, "config", "user.email", "a@example.com")
    repo = GitRepo(top / "analytics")
    assert repo.is_repo()
    assert repo.changes() == [Change("asemic.yml", "untracked")]
    repo.commit("Only the project")
    assert git(top, "show", "--name-only", "--format=", "HEAD").split() == ["analytics/asemic.yml"]
    assert git(top, "status", "--porcelain").strip() == "?? README"


def test_sidebar_summary(repo, tmp_path):
    from asemic_core.git_repo import git_summary

    outside = tmp_path / "outside"
    outside.mkdir()
    assert git_summary(outside) is None
    assert git_summary(repo.root) == ":material/account_tree: Branch **main**, 3 changed file(s)"
    repo.commit("all")
    assert git_summary(repo.root) == ":material/account_tree: Branch **main**"
