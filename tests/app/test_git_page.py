"""Git: init, changed files with diffs, commit with a message, branches, config reloaded."""

from __future__ import annotations

import subprocess

GIT = "pages/git.py"
KPI_FILE = "userentity/kpis/revenue.yml"


def git(root, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True, text=True).stdout


def committed_repo(root) -> None:
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / ".gitignore").write_text(".asemic/\n*.duckdb\n*.duckdb.wal\n")
    git(root, "config", "user.name", "Ana Analyst")
    git(root, "config", "user.email", "ana@example.com")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "Starter config")


def test_a_project_outside_git_offers_init(app, studio_project):
    app.switch_page(GIT).run()
    assert not app.exception
    assert any("not in a git repository" in i.value for i in app.info)
    app.button(key="git_init").click().run()
    assert not app.exception
    assert (studio_project.root / ".git").is_dir()
    assert ".asemic/" in (studio_project.root / ".gitignore").read_text()
    assert any(s.value.startswith("Initialized a git repository") for s in app.success)
    # Every config file is new, the model and the warehouse are ignored.
    titles = [e.label for e in app.expander]
    assert any("`asemic.yml`" in t for t in titles) and any(f"`{KPI_FILE}`" in t for t in titles)
    assert not any(".asemic" in t.replace(".asemic/", "") or "duckdb" in t for t in titles)


def test_changes_with_diffs_and_commit_with_the_typed_message(app, studio_project):
    root = studio_project.root
    committed_repo(root)
    app.switch_page(GIT).run()
    assert any(s.value.startswith("Nothing to commit") for s in app.success)

    kpi = root / KPI_FILE
    kpi.write_text(kpi.read_text().replace("label:", "label: Edited", 1) if "label:" in kpi.read_text()
                   else kpi.read_text() + "# edited\n")
    (root / "userentity" / "kpis" / "new.yml").write_text("kpis: {}\n")
    app.run()
    titles = [e.label for e in app.expander]
    assert titles == [":green[new]  `userentity/kpis/new.yml`", f":orange[changed]  `{KPI_FILE}`"]
    diffs = [c.value for c in app.code if c.language == "diff"]
    assert any(d.startswith("diff --git") and KPI_FILE in d for d in diffs)
    assert any("+kpis: {}" in d for d in diffs)

    app.text_area(key="git_message").input("Rename the revenue KPI\n\nClearer label.")
    app.button(key="FormSubmitter:git_commit_form-Commit").click().run()
    assert not app.exception
    assert git(root, "log", "-1", "--format=%B").strip() == "Rename the revenue KPI\n\nClearer label."
    assert git(root, "status", "--porcelain").strip() == ""
    assert any(s.value.startswith("Committed `") for s in app.success)
    assert app.text_area(key="git_message").value == ""
    assert list(app.dataframe[-1].value["message"])[:2] == ["Rename the revenue KPI", "Starter config"]


def test_an_empty_message_is_refused(app, studio_project):
    committed_repo(studio_project.root)
    (studio_project.root / "userentity" / "kpis" / "new.yml").write_text("kpis: {}\n")
    app.switch_page(GIT).run()
    app.button(key="FormSubmitter:git_commit_form-Commit").click().run()
    assert [e.value for e in app.error] == ["type a commit message: it says what changed and why"]
    assert git(studio_project.root, "rev-list", "--count", "HEAD").strip() == "1"


def test_create_and_switch_branches_reloads_the_config(app, studio_project):
    root = studio_project.root
    committed_repo(root)
    app.switch_page(GIT).run()
    app.text_input(key="git_new_branch").input("feature/broken")
    app.button(key="git_create").click().run()
    assert git(root, "branch", "--show-current").strip() == "feature/broken"
    assert app.selectbox(key="git_branch").value == "feature/broken"

    # A commit on the branch that breaks the config; back on main the config is valid again.
    (root / KPI_FILE).write_text("kpis: [not, a, mapping]\n")
    git(root, "commit", "--quiet", "-am", "Break the KPIs")
    app.run()
    app.selectbox(key="git_branch").set_value("main").run()
    app.button(key="git_switch").click().run()
    assert not app.exception
    assert git(root, "branch", "--show-current").strip() == "main"
    assert any(s.value == "Switched to branch `main`." for s in app.success)
    assert any(i.value.startswith("Config reloaded from the checked-out files: valid") for i in app.info)

    app.selectbox(key="git_branch").set_value("feature/broken").run()
    app.button(key="git_switch").click().run()
    assert any("error(s)" in i.value for i in app.info if i.value.startswith("Config reloaded"))
