"""lvs.cf as the tool sees it: read with a digest, saved only through the same gate as `piranha check`.

Every page shows a `Snapshot` and puts its digest into its forms.  A save
names the digest the form was made from; if the file changed since (another
administrator, an editor, a sync from the partner router), the save is
refused rather than overwriting what someone else wrote.  The text written
is produced by `piranha.config.update` (comments and everything the tool did
not edit stay as they were), must pass exactly what `piranha check` runs
(parse with this machine's environment) and must read back as the edited
configuration; then `piranha.config.save` replaces the file (lock, temp
file, fsync, rename, one .bak copy).  Each write raises ``serial_no`` by
one, as the original tool did.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from piranha.config import (
    Config,
    ConfigError,
    Diagnostic,
    Environment,
    check,
    dumps,
    parse,
    read_text,
    save,
    update,
)
from piranha.config.diagnostics import ERROR

ABSENT = "absent"


class Conflict(Exception):
    """The file changed since the page was shown."""


class Invalid(Exception):
    """The edited configuration would not pass `piranha check`."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics


class WriteFailed(Exception):
    """The file could not be written (message for the user)."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    text: str
    digest: str
    config: Config | None  # None when the file cannot be read or has errors
    problems: list[Diagnostic] = field(
        default_factory=list
    )  # errors, or the warnings of a good file
    read_error: str | None = None
    exists: bool = True

    @property
    def usable(self) -> bool:
        return self.config is not None

    @property
    def serial_no(self) -> int | None:
        return None if self.config is None else self.config.serial_no


@dataclass(frozen=True)
class Saved:
    before: Snapshot
    after: Snapshot
    diff: str
    warnings: list[Diagnostic]

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def unified_diff(
    before: str, after: str, path: Path, old: str = "before", new: str = "after"
) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} ({old})",
            tofile=f"{path} ({new})",
        )
    )


class ConfigStore:
    def __init__(self, path: Path, environment: Callable[[], Environment] = Environment) -> None:
        self.path = Path(path)
        self.environment = environment
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        try:
            text = read_text(self.path)
        except FileNotFoundError:
            # As `touch lvs.cf`: the tool starts from an empty configuration and creates the file.
            return Snapshot(self.path, "", ABSENT, Config(filename=str(self.path)), exists=False)
        except OSError as exc:
            return Snapshot(
                self.path,
                "",
                ABSENT,
                None,
                read_error=f"cannot read {self.path}: {exc.strerror or exc}",
            )
        digest = digest_of(text)
        if not text.strip(" \t\r\n\ufeff"):
            return Snapshot(self.path, text, digest, Config(filename=str(self.path)))
        try:
            config = parse(text, filename=str(self.path), environment=self.environment())
        except ConfigError as exc:
            return Snapshot(self.path, text, digest, None, exc.diagnostics)
        return Snapshot(self.path, text, digest, config, list(config.warnings))

    def save(self, expected_digest: str, edited: Config) -> Saved:
        """Write `edited` if the file is still the one with `expected_digest`.

        Raises Conflict, Invalid or WriteFailed; nothing is written then.
        Returns what changed (an empty diff: nothing to write, nothing written).
        """
        with self._lock:
            before = self.snapshot()
            if before.digest != expected_digest:
                raise Conflict(
                    f"{self.path} changed since this page was shown (someone else saved it, or it "
                    "was edited by hand). Nothing was saved: the page now shows the current file; "
                    "make your change again."
                )
            if before.config is None:
                raise Invalid(
                    before.problems
                    or [Diagnostic(ERROR, before.read_error or "unreadable", str(self.path))]
                )
            config = copy.deepcopy(edited)
            config.filename = str(self.path)
            if config == before.config and before.exists:
                return Saved(before, before, "", list(before.problems))
            config.serial_no = (before.config.serial_no or 0) + 1
            env = self.environment()
            errors = [d for d in check(config, env) if d.is_error]
            if errors:
                raise Invalid(errors)
            try:
                text = update(before.text, config) if before.text.strip() else dumps(config)
                # The gate: exactly what `piranha check` runs, on exactly these bytes.
                written = parse(text, filename=str(self.path), environment=env)
            except ConfigError as exc:
                raise Invalid(exc.errors or exc.diagnostics) from None
            if written != config:
                raise Invalid(
                    [
                        Diagnostic(
                            ERROR,
                            "internal error: the new file would not read back as edited; nothing was saved",
                            str(self.path),
                        )
                    ]
                )
            try:
                save(self.path, text)
            except OSError as exc:
                raise WriteFailed(f"cannot write {self.path}: {exc.strerror or exc}") from None
            after = self.snapshot()
            return Saved(
                before,
                after,
                unified_diff(before.text, after.text, self.path),
                list(written.warnings),
            )
