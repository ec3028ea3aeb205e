"""Changes of the config files against a saved snapshot and against git HEAD."""

from __future__ import annotations

import time

import shutil
import subprocess

import pytest

from asemic_core.config.diff import compare, current_texts, git_head_texts, snapshot_texts, snapshot_time, \
    unified, write_snapshot


def test_unified_diff_of_one_file():
    text = unified("a: 1\nb: 2\n", "a: 1\nb: 3\n", "x.yml")
    assert text.splitlines() == ["--- x.yml (saved)", "+++ x.yml (now)", "@@ -1,2 +1,2 @@", " a: 1", "-b: 2", "+b: 3"]


def test_unified_diff_of_new_and_deleted_files():
    assert unified(None, "a: 1\n", "x.yml").splitlines()[:2] == ["--- /dev/null", "+++ x.yml (now)"]
    assert unified("a: 1\n", None, "x.yml").splitlines()[:2] == ["--- x.yml (saved)", "+++ /dev/null"]


def test_unified_diff_marks_a_missing_final_newline():
    assert "\\ No newline at end of file" in unified("a: 1\n", "a: 2", "x.yml")


def test_compare_lists_every_file_with_its_status():
    found = compare({"a.yml": "x\n", "b.yml": "y\n", "c.yml": "z\n"}, {"a.yml": "x\n", "b.yml": "y2\n", "d.yml": "w\n"})
    assert [(d.path, d.status) for d in found] == [
        ("a.yml", "unchanged"), ("b.yml", "modified"), ("c.yml", "removed"), ("d.yml", "added")]
    assert found[0].diff == ""
    assert "+y2" in found[1].diff.splitlines()


def test_snapshot_round_trip(project, tmp_path):
    model_dir = tmp_path / "model"
    assert snapshot_texts(model_dir) is None and snapshot_time(model_dir) is None
    started = time.time()
    write_snapshot(project.root, model_dir)
    assert snapshot_texts(model_dir) == current_texts(project.root)
    assert started <= snapshot_time(model_dir) <= time.time()
    project.append("userentity/kpis/revenue.yml", "# a note\n")
    project.delete("userentity/events/ad_view.yml")
    changed = {d.path: d.status for d in compare(snapshot_texts(model_dir), current_texts(project.root))
               if d.status != "unchanged"}
    assert changed == {"userentity/kpis/revenue.yml": "modified", "userentity/events/ad_view.yml": "removed"}
    write_snapshot(project.root, model_dir)  # replaces the previous one entirely
    assert snapshot_texts(model_dir) == current_texts(project.root)
    assert not (model_dir / "snapshots" / "last_export.old").exists()


def test_snapshot_inside_the_project_is_not_part_of_the_config(project):
    model_dir = project.root / ".asemic" / "model"
    before = current_texts(project.root)
    write_snapshot(project.root, model_dir)
    assert current_texts(project.root) == before


def git(root, *args):
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_head_of_a_project_in_a_subdirectory(copy_fixture, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    project = copy_fixture(repo / "analytics" / "project")
    assert git_head_texts(project.root) is None  # not a repository
    git(repo, "init", "-q")
    assert git_head_texts(project.root) is None  # no commit yet
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "config")
    head = git_head_texts(project.root)
    assert head == current_texts(project.root)
    project.replace("userentity/config.yml", "active_days:", "active_days:  ")
    project.write("userentity/kpis/new.yml", "kpis: {}\n")
    changed = {d.path: d.status for d in compare(head, current_texts(project.root), "HEAD") if d.status != "unchanged"}
    assert changed == {"userentity/config.yml": "modified", "userentity/kpis/new.yml": "added"}
