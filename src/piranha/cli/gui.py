"""`piranha gui`: the Piranha Configuration Tool on port 3636 (the original's `service piranha-gui start`).

    piranha gui [-c lvs.cf] [--listen ADDRESS:PORT] [--cert FILE --key FILE]
                [--passwd-file FILE] [--allow NETWORK ...] [--api-token-file FILE]
    piranha gui --new-api-token          print a new API token (stores only its hash)

It listens on all addresses, port 3636, like the original, but answers only
clients on the allow-list (default: this machine), like the guide's
``.htaccess`` "Allow from 127.0.0.1".  It refuses to start without a
password (set one with `piranha passwd`).  docs/gui.md is the manual.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from pathlib import Path

from piranha.config import config_path
from piranha.runtime.logsetup import setup_logging
from piranha.runtime.machine import machine_environment

DEFAULT_LISTEN = "0.0.0.0:3636"


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port).  Raises ValueError."""
    host, port_text = "0.0.0.0", text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(f"`{text}`: write an IPv6 address as [ADDRESS]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"`{host}` is not an IP address to listen on") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"`{port_text}` is not a port (1-65535)")
    return host, int(port_text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="piranha gui", description="The Piranha Configuration Tool (web GUI)."
    )
    p.add_argument(
        "-c",
        "--configfile",
        metavar="FILE",
        help="lvs.cf (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)",
    )
    p.add_argument(
        "--listen",
        metavar="ADDRESS:PORT",
        default=DEFAULT_LISTEN,
        help=f"where to listen (default {DEFAULT_LISTEN})",
    )
    p.add_argument("--cert", metavar="FILE", help="TLS certificate (PEM); serve HTTPS")
    p.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument(
        "--passwd-file",
        metavar="FILE",
        help="password file (default: /etc/sysconfig/ha/conf/piranha.passwd)",
    )
    p.add_argument(
        "--allow", metavar="NETWORK", action="append",
        help="client network allowed in (repeatable): 192.168.1.100, 172.16.57.0/24, 172.16.57 or all "
             "(default: 127.0.0.1 and ::1 only)",
    )  # fmt: skip
    p.add_argument(
        "--api-token-file",
        metavar="FILE",
        help="API token file (default: /etc/sysconfig/ha/conf/piranha-api.token)",
    )
    p.add_argument(
        "--new-api-token", action="store_true", help="make a new API token, print it, and exit"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported here so that `piranha gui --help` stays fast.
    from piranha.gui import GuiSettings, create_app
    from piranha.gui.allowlist import LOOPBACK, parse_network
    from piranha.gui.apitoken import create_token, token_file
    from piranha.gui.passwords import PasswordFileError, passwd_file, read_entry
    from piranha.gui.secretfile import exposure

    tokens = token_file(args.api_token_file)
    if args.new_api_token:
        try:
            token = create_token(tokens)
        except OSError as exc:
            print(f"piranha gui: cannot write {tokens}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(token)
        print(
            f"(only its hash is kept, in {tokens}; send it as `Authorization: Bearer <token>`)",
            file=sys.stderr,
        )
        return 0

    try:
        host, port = parse_listen(args.listen)
        allow = args.allow or list(LOOPBACK)
        for entry in allow:
            parse_network(entry)
    except ValueError as exc:
        print(f"piranha gui: {exc}", file=sys.stderr)
        return 2
    if bool(args.cert) != bool(args.key):
        print("piranha gui: --cert and --key go together", file=sys.stderr)
        return 2
    for tls_file in filter(None, (args.cert, args.key)):
        if not Path(tls_file).is_file():
            print(f"piranha gui: {tls_file}: no such file", file=sys.stderr)
            return 1
    passwords = passwd_file(args.passwd_file)
    try:
        read_entry(passwords)
    except PasswordFileError as exc:
        print(f"piranha gui: {exc}", file=sys.stderr)
        return 1
    for secret in (passwords, tokens):
        problem = exposure(secret)
        if problem:
            print(f"piranha gui: {problem}", file=sys.stderr)
            return 1

    log = setup_logging("gui", foreground=True, verbose=args.verbose, prefix="piranha-gui")
    cf = config_path(args.configfile)
    if not cf.exists():
        log.warning("%s does not exist yet; the first ACCEPT creates it", cf)
    settings = GuiSettings(
        config_path=cf,
        passwd_file=passwords,
        token_file=tokens,
        allow=allow,
        tls=bool(args.cert),
        environment=machine_environment,
    )
    app = create_app(settings)
    scheme = "https" if args.cert else "http"
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "serving %s on %s://%s:%d/ for clients in %s", cf, scheme, shown, port, ", ".join(allow)
    )

    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",  # stdlib loop (deps.md: keep uvloop out of the GUI)
        proxy_headers=False,  # the allow-list must see the real peer address
        server_header=False,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        access_log=args.verbose,
        log_level="info" if args.verbose else "warning",
    )
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
