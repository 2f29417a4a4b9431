"""parse(): text -> checked Config, the one entry point the daemons and the GUI use."""

from __future__ import annotations

from .checks import Finding, findings
from .diagnostics import ERROR, ConfigError, Diagnostic, Scope, sort_key
from .environment import Environment
from .model import Config
from .reader import read

_EMPTY_CHARS = " \t\r\n\ufeff"


def parse(text: str, filename: str = "lvs.cf", environment: Environment | None = None) -> Config:
    """Read lvs.cf text: syntax, value types, then the semantic checks.

    Raises ConfigError listing every error (and the warnings) found;
    otherwise returns the Config with its warnings in ``config.warnings``.
    Host and service names are looked up through `environment` only
    (default: this machine's resolver and /etc/services).
    """
    env = environment or Environment()
    if not text.strip(_EMPTY_CHARS):
        raise ConfigError(
            [
                Diagnostic(
                    ERROR,
                    "empty configuration: the file has no settings (was it truncated?)",
                    filename,
                    1,
                    1,
                )
            ]
        )
    result = read(text, filename, env, keep_document=False)
    semantic = [
        f.diagnostic for f in findings(result.config, env) if not _suppressed(f, result.broken)
    ]
    diagnostics = sorted(result.diagnostics + semantic, key=sort_key)
    if any(d.is_error for d in diagnostics):
        raise ConfigError(diagnostics)
    config = result.config
    config.warnings = diagnostics
    return config


def _suppressed(finding: Finding, broken: set[Scope]) -> bool:
    """A semantic finding about something a syntax error left uncertain.

    A broken global section (an unreadable global line) silences global
    findings; a broken block silences findings about it, its servers and
    its parent virtual.
    """
    for scope in finding.involves:
        if scope == ():
            if () in broken:
                return True
            continue
        for b in broken:
            if b and (b[: len(scope)] == scope or scope[: len(b)] == b):
                return True
    return False
