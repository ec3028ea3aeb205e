"""Zip export and import of a project's config (``asemic.yml`` and ``userentity/``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from asemic_core.config.loader import ASEMIC_FILE, ENTITY_DIR, load_project
from asemic_core.errors import AsemicError, ConfigError
from asemic_core.issues import Issue

MAX_ARCHIVE_BYTES = 50 * 1024 * 1024


def config_files(root: Path) -> list[Path]:
    """The files that make up the config, relative to ``root``, hidden files excluded."""
    files = [Path(ASEMIC_FILE)] if (root / ASEMIC_FILE).is_file() else []
    entity = root / ENTITY_DIR
    if entity.is_dir():
        for path in sorted(entity.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                files.append(rel)
    return files


def export_zip(root: Path, out: Path) -> list[str]:
    """Write the config into ``out`` (atomically); return the archived paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = []
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel in config_files(root):
                name = rel.as_posix()
                # A fixed timestamp makes the archive depend only on the files' contents.
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, (root / rel).read_bytes())
                names.append(name)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return names


def _safe_members(archive: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    members = []
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
            raise AsemicError(f"{label}: refusing unsafe path {info.filename!r} in the archive")
        if not (info.filename == ASEMIC_FILE or path.parts[0] == ENTITY_DIR):
            raise AsemicError(f"{label}: unexpected file {info.filename!r}; an asemic archive holds only "
                              f"{ASEMIC_FILE} and {ENTITY_DIR}/")
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise AsemicError(f"{label}: archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MB uncompressed")
        members.append(info)
    return members


def import_zip(root: Path, archive_path: Path, validate) -> list[Issue]:
    """Replace the project's config by the archive's, only if the archive is valid.

    ``validate(directory) -> list[Issue]`` checks the unpacked config; on any error the
    project is left untouched and :class:`ConfigError` carries the issues.
    """
    archive_path = Path(archive_path)
    label = archive_path.name
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise AsemicError(f"{label}: not a readable zip archive ({err})") from None
    with archive, tempfile.TemporaryDirectory(prefix=".import-", dir=root) as staging_dir:
        staging = Path(staging_dir)
        members = _safe_members(archive, label)
        if not any(m.filename == ASEMIC_FILE for m in members):
            raise AsemicError(f"{label}: the archive has no {ASEMIC_FILE}")
        for info in members:
            target = staging / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
        _carry_warehouse(root, staging)
        issues = validate(staging)
        errors = [i for i in issues if i.is_error]
        if errors:
            raise ConfigError(f"{label}: the archive's config is invalid; the project was not changed", errors)
        _swap_in(root, staging)
        return issues


def _carry_warehouse(root: Path, staging: Path) -> None:
    # The archive carries config only; a relative warehouse path must resolve as it
    # would in the project, so validation of the staged copy sees the same warehouse.
    files = load_project(staging)
    if files.deployment is None:
        return
    warehouse = Path(files.deployment.model.warehouse.path)
    if not warehouse.is_absolute() and (root / warehouse).exists() and not (staging / warehouse).exists():
        (staging / warehouse).parent.mkdir(parents=True, exist_ok=True)
        os.symlink((root / warehouse).resolve(), staging / warehouse)


def _swap_in(root: Path, staging: Path) -> None:
    backup = Path(tempfile.mkdtemp(prefix=".import-backup-", dir=root))
    try:
        if (root / ENTITY_DIR).exists():
            os.replace(root / ENTITY_DIR, backup / ENTITY_DIR)
        if (root / ASEMIC_FILE).exists():
            os.replace(root / ASEMIC_FILE, backup / ASEMIC_FILE)
        if (staging / ENTITY_DIR).exists():
            os.replace(staging / ENTITY_DIR, root / ENTITY_DIR)
        os.replace(staging / ASEMIC_FILE, root / ASEMIC_FILE)
    except OSError:
        for name in (ENTITY_DIR, ASEMIC_FILE):  # put the old config back
            if (backup / name).exists():
                if (root / name).exists():
                    shutil.rmtree(root / name) if (root / name).is_dir() else (root / name).unlink()
                os.replace(backup / name, root / name)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)
