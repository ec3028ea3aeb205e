"""Zip export and import of a project's config (``asemic.yml`` and ``userentity/``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from asemic_core.config.loader import ASEMIC_FILE, ENTITY_DIR, load_project
from asemic_core.errors import AsemicError, ConfigError
from asemic_core.issues import Issue

MAX_ARCHIVE_BYTES = 20 * 1024 * 1024  # inflated bytes, counted while unpacking
MAX_ARCHIVE_ENTRIES = 2_000


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


class ImportedIssues(list):
    """The issues of an imported config, plus what the import kept of the project (``kept``)."""

    def __init__(self, issues: list[Issue], kept: list[str]) -> None:
        super().__init__(issues)
        self.kept = kept


def _skipped(name: str) -> bool:
    """Archive debris that is not config: macOS resource forks, hidden files."""
    parts = PurePosixPath(name).parts
    return parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def _layout(names: list[str]) -> tuple[str, str]:
    """(prefix to strip, prefix to add) that map archive paths onto project paths.

    Accepted: an asemic archive (``asemic.yml`` + ``userentity/``), an Asemic CLI archive
    (``userentity/`` only), either inside one top folder, or the entity folder's contents
    (``config.yml``, ``events/``, ...) at the root.
    """
    def fits(prefix: str) -> bool:
        return any(n == prefix + ASEMIC_FILE or n.startswith(prefix + ENTITY_DIR + "/") for n in names)

    if fits(""):
        return "", ""
    tops = {PurePosixPath(n).parts[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names) and fits(next(iter(tops)) + "/"):
        return next(iter(tops)) + "/", ""
    if "config.yml" in names:
        return "", ENTITY_DIR + "/"
    return "", ""


def _safe_members(archive: zipfile.ZipFile, label: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """The archive's files with the project path each one goes to; unsafe archives are refused."""
    infos = archive.infolist()
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        raise AsemicError(f"{label}: the archive has {len(infos):,} entries; a config archive may have at most "
                          f"{MAX_ARCHIVE_ENTRIES:,}")
    files = []
    for info in infos:
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename or ":" in info.filename:
            raise AsemicError(f"{label}: refusing unsafe path {info.filename!r} in the archive")
        if not info.is_dir() and not _skipped(info.filename):
            files.append(info)
    strip, add = _layout([info.filename for info in files])
    members = []
    declared = 0
    for info in files:
        target = add + info.filename[len(strip):]
        if not (target == ASEMIC_FILE or PurePosixPath(target).parts[0] == ENTITY_DIR):
            raise AsemicError(f"{label}: unexpected file {info.filename!r}; an asemic archive holds only "
                              f"{ASEMIC_FILE} and {ENTITY_DIR}/")
        declared += info.file_size
        if declared > MAX_ARCHIVE_BYTES:
            raise AsemicError(_too_large(label))
        members.append((info, target))
    return members


def _too_large(label: str) -> str:
    return f"{label}: the archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MB uncompressed"


def _extract(archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, str]], staging: Path, label: str) -> None:
    """Unpack, counting the bytes actually inflated: a zip bomb's declared sizes may lie."""
    budget = MAX_ARCHIVE_BYTES
    for info, name in members:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as source, open(target, "wb") as out:
                while chunk := source.read(1 << 16):
                    budget -= len(chunk)
                    if budget < 0:
                        raise AsemicError(_too_large(label))
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
            raise AsemicError(f"{label}: cannot unpack {info.filename!r} ({err})") from None


def import_zip(root: Path, archive_path: Path, validate) -> ImportedIssues:
    """Replace the project's config by the archive's, only if the archive is valid.

    ``validate(directory) -> list[Issue]`` checks the unpacked config; on any error the
    project is left untouched and :class:`ConfigError` carries the issues. An archive
    without ``asemic.yml`` (as the Asemic CLI writes them) keeps the project's own.
    """
    archive_path = Path(archive_path)
    label = archive_path.name
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise AsemicError(f"{label}: not a readable zip archive ({err})") from None
    with archive:
        members = _safe_members(archive, label)
        if not any(name.startswith(ENTITY_DIR + "/") for _info, name in members):
            raise AsemicError(f"{label}: the archive holds no {ENTITY_DIR}/ folder (nothing to import)")
        kept = []
        if not any(name == ASEMIC_FILE for _info, name in members):
            if not (root / ASEMIC_FILE).is_file():
                raise AsemicError(f"{label}: the archive has no {ASEMIC_FILE} and neither has the project: "
                                  f"write {ASEMIC_FILE} (the warehouse path) first")
            kept.append(ASEMIC_FILE)
        with tempfile.TemporaryDirectory(prefix=".import-", dir=root) as staging_dir:
            staging = Path(staging_dir)
            _extract(archive, members, staging, label)
            if kept:
                shutil.copy2(root / ASEMIC_FILE, staging / ASEMIC_FILE)
            _carry_warehouse(root, staging)
            issues = validate(staging)
            errors = [i for i in issues if i.is_error]
            if errors:
                raise ConfigError(f"{label}: the archive's config is invalid; the project was not changed", errors)
            _swap_in(root, staging, with_deployment=not kept)
            return ImportedIssues(issues, kept)


def _carry_warehouse(root: Path, staging: Path) -> None:
    # The archive carries config only; a relative warehouse path must resolve as it
    # would in the project, so validation of the staged copy sees the same warehouse.
    files = load_project(staging)
    if files.deployment is None:
        return
    if files.deployment.model.warehouse.path is None:
        return  # a Spark catalog: nothing on disk to link
    warehouse = Path(files.deployment.model.warehouse.path)
    link = staging / warehouse
    if not link.resolve().is_relative_to(staging.resolve()):
        return  # a path out of the project (`../x.duckdb`): nothing to link inside the staging folder
    if not warehouse.is_absolute() and (root / warehouse).exists() and not link.exists():
        (staging / warehouse).parent.mkdir(parents=True, exist_ok=True)
        os.symlink((root / warehouse).resolve(), staging / warehouse)


def _swap_in(root: Path, staging: Path, with_deployment: bool = True) -> None:
    backup = Path(tempfile.mkdtemp(prefix=".import-backup-", dir=root))
    try:
        if (root / ENTITY_DIR).exists():
            os.replace(root / ENTITY_DIR, backup / ENTITY_DIR)
        if with_deployment and (root / ASEMIC_FILE).exists():
            os.replace(root / ASEMIC_FILE, backup / ASEMIC_FILE)
        if (staging / ENTITY_DIR).exists():
            os.replace(staging / ENTITY_DIR, root / ENTITY_DIR)
        if with_deployment:
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
