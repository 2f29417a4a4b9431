"""nft's language, applied as one kernel transaction.

One call of :meth:`Nft.run` is one transaction: either every command in
the text takes effect or none does.  The library (``libnftables.so.1``,
Debian package ``nftables``) is driven through ctypes — no Python binding
needed, ~0.1 ms per call plus nft's own cache refresh; if it cannot be
loaded, ``nft -f -`` does the same job at the cost of a process start.

Only nft's *text* syntax is generated: nft 1.0.6's JSON input crashes on
some valid rulesets (see docs/dataplane-nftables.md), and so do a few
text shapes (a map update with a five-field key), which the generator
never produces and the tests apply one by one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import threading

LIBRARY = "libnftables.so.1"
NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4


class NftError(Exception):
    """nft refused the text; ``str()`` is nft's own message (first lines)."""


class NftUnavailable(Exception):
    """Neither libnftables nor the ``nft`` program can be used here."""


def _message(raw: str) -> str:
    lines = [line for line in raw.strip().splitlines() if line.strip()]
    # nft prints the error, then the offending line and a caret line; keep all of
    # the first error and only the headline of the others
    head = lines[:3]
    rest = [line for line in lines[3:] if line.startswith(("Error:", "/dev/stdin:", "internal:"))]
    return "\n".join(head + rest[:5]) or "nft failed without a message"


class Nft:
    """libnftables through ctypes.  Thread-safe (one call at a time)."""

    kind = "libnftables"

    def __init__(self, *, json_output: bool = False) -> None:
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError as exc:
            raise NftUnavailable(f"cannot load {LIBRARY}: {exc} (install Debian's nftables)")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_int
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        self._lib = lib
        self._lock = threading.Lock()
        self._ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise NftUnavailable("libnftables could not create a context")
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        if json_output:
            lib.nft_ctx_output_set_flags(self._ctx, NFT_CTX_OUTPUT_JSON)

    def run(self, text: str) -> str:
        """Apply ``text`` as one transaction; returns nft's output (for list commands)."""
        with self._lock:
            if self._ctx is None:
                raise NftError("the nft context is closed")
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise NftError(_message(err))
        return out

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


class NftCommand:
    """The same through ``nft -f -`` (one process per transaction)."""

    kind = "nft command"

    def __init__(self, program: str | None = None, *, json_output: bool = False) -> None:
        found = program or shutil.which("nft") or (
            "/usr/sbin/nft" if shutil.which("/usr/sbin/nft") else None
        )
        if found is None:
            raise NftUnavailable("the nft program is not installed (install Debian's nftables)")
        self.program = found
        self.json_output = json_output

    def run(self, text: str) -> str:
        argv = [self.program, *(["-j"] if self.json_output else []), "-f", "-"]
        try:
            res = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NftError(f"cannot run {self.program}: {exc}")
        if res.returncode != 0:
            raise NftError(_message(res.stderr))
        return res.stdout

    def close(self) -> None:
        pass


def open_nft(*, json_output: bool = False, prefer_library: bool = True) -> Nft | NftCommand:
    """libnftables if it loads, else the nft program; NftUnavailable if neither."""
    reasons = []
    if prefer_library:
        try:
            return Nft(json_output=json_output)
        except NftUnavailable as exc:
            reasons.append(str(exc))
    try:
        return NftCommand(json_output=json_output)
    except NftUnavailable as exc:
        reasons.append(str(exc))
    raise NftUnavailable("; ".join(reasons))


def library_present() -> bool:
    return ctypes.util.find_library("nftables") is not None
