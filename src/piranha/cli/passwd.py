"""`piranha passwd`: set the Configuration Tool's password (the original's piranha-passwd).

    piranha passwd                 prompts `New Password:` and `Verify:` (no echo)
    piranha passwd PASSWORD        warns that the password is on the command line
    piranha passwd --stdin         reads one line (for scripts)

The argon2id hash goes to /etc/sysconfig/ha/conf/piranha.passwd
($PIRANHA_PASSWD_FILE, --passwd-file), mode 0600, replaced atomically.
Running GUI sessions end: the next page asks for the new password.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from piranha.gui.passwords import USER, hash_password, passwd_file, write_entry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piranha passwd",
        description="Set the password of the Piranha Configuration Tool (user piranha).",
    )
    parser.add_argument("password", nargs="?", help="the new password (better: let it prompt)")
    parser.add_argument(
        "--stdin", action="store_true", help="read the password from one line of stdin"
    )
    parser.add_argument(
        "--passwd-file",
        metavar="FILE",
        help="password file (default: $PIRANHA_PASSWD_FILE or /etc/sysconfig/ha/conf/piranha.passwd)",
    )
    return parser


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password is not None:
        print("Warning: sensitive information entered on command line.", file=sys.stderr)
        return args.password
    if args.stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        first = getpass.getpass("New Password: ")
        second = getpass.getpass("Verify: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return None
    if first != second:
        print("Passwords do not match.", file=sys.stderr)
        return None
    return first


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.password is not None and args.stdin:
        print(
            "piranha passwd: give the password as an argument or with --stdin, not both",
            file=sys.stderr,
        )
        return 2
    password = _read_password(args)
    if password is None:
        return 1
    if not password:
        print("piranha passwd: the password is empty; nothing was changed", file=sys.stderr)
        return 1
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        print(
            "piranha passwd: the password holds control characters; nothing was changed",
            file=sys.stderr,
        )
        return 1
    path = passwd_file(args.passwd_file)
    try:
        existed = write_entry(path, hash_password(password))
    except OSError as exc:
        hint = " (run as root)" if isinstance(exc, PermissionError) else ""
        print(f"piranha passwd: cannot write {path}: {exc.strerror or exc}{hint}", file=sys.stderr)
        return 1
    print(f"{'Updating' if existed else 'Adding'} password for user {USER}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
