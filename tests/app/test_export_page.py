"""Export: YAML of each file, diffs, zip download and zip import."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import zipfile

import pytest

EXPORT = "pages/export.py"
KPI_FILE = "userentity/kpis/revenue.yml"


def config_hashes(project) -> dict[str, str]:
    paths = [project.root / "asemic.yml", *sorted((project.root / "userentity").rglob("*"))]
    return {p.relative_to(project.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths if p.is_file()}


def archive_bytes(project, tmp_path, change: dict[str, bytes] | None = None) -> bytes:
    out = tmp_path / "export.zip"
    project.export_zip(out)
    if not change:
        return out.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, change.get(info.filename, source.read(info)))
    return buffer.getvalue()


def upload(app, name: str, data: bytes) -> None:
    app.get("file_uploader")[0].set_value((name, data, "application/zip"))
    app.run()
    app.button(key="export_import").click().run()


def test_yaml_of_the_selected_file(app, studio_project):
    app.switch_page(EXPORT).run()
    assert not app.exception
    listing = app.dataframe[0].value
    assert "asemic.yml" in list(listing["file"]) and KPI_FILE in list(listing["file"])
    app.selectbox(key="export_file").set_value(KPI_FILE).run()
    yaml = [c for c in app.code if c.language == "yaml"]
    assert len(yaml) == 1 and yaml[0].value == (studio_project.root / KPI_FILE).read_text().rstrip("\n")


def test_download_button_and_last_saved_state(app, studio_project):
    app.switch_page(EXPORT).run()
    buttons = app.get("download_button")
    assert len(buttons) == 1 and buttons[0].label == "Download config (.zip)"
    assert buttons[0].proto.url  # the archive is served
    assert any(i.value.startswith("No saved state yet") for i in app.info)
    buttons[0].click().run()
    assert not app.exception
    snapshot = studio_project.model_dir() / "snapshots" / "last_export"
    assert (snapshot / KPI_FILE).read_text() == (studio_project.root / KPI_FILE).read_text()
    # edit a file: the diff against the last saved state shows the change
    path = studio_project.root / KPI_FILE
    path.write_text(path.read_text().replace("label: Revenue", "label: Gross revenue", 1))
    app.selectbox(key="export_file").set_value(KPI_FILE).run()
    listing = app.dataframe[0].value
    assert listing[listing["file"] == KPI_FILE].iloc[0]["since last export"] == "changed"
    diffs = [c.value for c in app.code if c.language == "diff"]
    assert len(diffs) == 1
    assert "-    label: Revenue\n" in diffs[0] and "+    label: Gross revenue\n" in diffs[0]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_against_git_head(app, studio_project):
    app.switch_page(EXPORT).run()
    assert any(i.value.startswith("The project is not in a git repository") for i in app.info)
    root = studio_project.root
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "asemic.yml", "userentity"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "config"], check=True)
    path = root / KPI_FILE
    path.write_text(path.read_text() + "# reviewed\n")
    app.selectbox(key="export_file").set_value(KPI_FILE).run()
    assert not app.exception
    listing = app.dataframe[0].value
    assert listing[listing["file"] == KPI_FILE].iloc[0]["since git HEAD"] == "changed"
    diffs = [c.value for c in app.code if c.language == "diff"]
    assert any("+# reviewed" in d and "(HEAD)" in d for d in diffs)


def test_import_of_a_valid_archive(app, studio_project, tmp_path):
    data = archive_bytes(studio_project, tmp_path)
    path = studio_project.root / KPI_FILE
    original = path.read_text()
    path.write_text(original.replace("label: Revenue", "label: Changed here", 1))
    app.switch_page(EXPORT).run()
    upload(app, "team.zip", data)
    assert not app.exception
    assert any(s.value == "Imported team.zip." for s in app.success)
    assert path.read_text() == original
    assert studio_project.validate().ok


def test_import_of_an_invalid_archive_changes_nothing(app, studio_project, tmp_path):
    data = archive_bytes(studio_project, tmp_path, {KPI_FILE: b"kpis:\n  revenue: [unclosed\n"})
    before = config_hashes(studio_project)
    app.switch_page(EXPORT).run()
    upload(app, "broken.zip", data)
    assert not app.exception
    assert any("broken.zip: the archive's config is invalid; the project was not changed" in e.value for e in app.error)
    issues = [df.value for df in app.dataframe if "message" in df.value.columns]
    assert issues and any(where.startswith(KPI_FILE) for where in issues[0]["where"])
    assert config_hashes(studio_project) == before


def test_import_of_something_else_than_a_zip(app, studio_project):
    before = config_hashes(studio_project)
    app.switch_page(EXPORT).run()
    upload(app, "notes.zip", b"not a zip at all")
    assert any("not a readable zip archive" in e.value for e in app.error)
    assert config_hashes(studio_project) == before
