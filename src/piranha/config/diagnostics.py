"""What the reader and the checks report: one `Diagnostic` per problem."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"

# Where in the model a diagnostic belongs, for programs (the GUI maps it to a
# form field): () is the global section, ("virtuals", 0) the first virtual
# block, ("virtuals", 0, "servers", 1) its second server, ("failovers", 2) ...
Scope = tuple[str | int, ...]


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an lvs.cf file, at FILE:LINE:COL (1-based).

    ``line``/``col`` are 0 when the problem has no place in a file (a
    configuration built in code); ``str()`` then leaves them out.
    """

    severity: str  # "error" | "warning"
    message: str
    file: str = "lvs.cf"
    line: int = 0
    col: int = 0
    token: str = ""
    key: str | None = field(default=None, compare=False)
    scope: Scope = field(default=(), compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"
        return f"{self.file}: {self.severity}: {self.message}"


def sort_key(d: Diagnostic) -> tuple[int, int, int]:
    # Located diagnostics in file order; unlocated ones (no line) after them.
    return (d.line == 0, d.line, d.col)


class ConfigError(Exception):
    """lvs.cf has errors.  ``diagnostics`` holds every error (and warning) found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        super().__init__(str(self))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)
