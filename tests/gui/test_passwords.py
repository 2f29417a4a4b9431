"""piranha passwd, the password file, and the hash formats an operator may migrate from."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat

import bcrypt
import pytest

from piranha.cli import passwd as passwd_cli
from piranha.gui import passwords
from piranha.gui.apr1 import apr1, verify_apr1

from .support import log_in, make_site

# Known answers: the first is the widely published htpasswd example; the others were made with
# `openssl passwd -apr1 -salt SALT PASSWORD` (an independent implementation).
APR1_VECTORS = [
    ("myPassword", "r31.....", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"),
    ("p@ss word", "saltsalt", "$apr1$saltsalt$11QAx5Oiaores.cTy1Ple."),
]


@pytest.mark.parametrize(("password", "salt", "expected"), APR1_VECTORS)
def test_apr1_known_answers(password, salt, expected):
    assert apr1(password, salt) == expected
    assert verify_apr1(password, expected)
    assert not verify_apr1(password + "x", expected)
    assert passwords.verify(expected, password)


def test_every_legacy_scheme_verifies_and_asks_for_an_upgrade():
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"secret").digest()).decode()
    b2b = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    b2y = "$2y$" + b2b[4:]  # Apache/PHP spelling of the same hash
    for stored in (sha, b2b, b2y, apr1("secret", "abcdefgh")):
        assert passwords.verify(stored, "secret"), stored
        assert not passwords.verify(stored, "Secret"), stored
        assert passwords.needs_upgrade(stored)
    fresh = passwords.hash_password("secret")
    assert fresh.startswith("$argon2id$")
    assert passwords.verify(fresh, "secret") and not passwords.verify(fresh, "secreT")
    assert not passwords.needs_upgrade(fresh)
    assert not passwords.verify("$2b$04$garbage", "secret")
    assert not passwords.verify(b2b, "x" * 100)  # bcrypt's 72-byte limit is a refusal, not a crash
    assert not passwords.verify("DES0ld1crypt", "secret")


def test_password_file_is_private_atomic_and_keeps_other_users(tmp_path):
    path = tmp_path / "conf" / "piranha.passwd"
    path.parent.mkdir()
    path.write_text("admin:$apr1$x$y\npiranha:{SHA}old\n")
    os.chmod(path, 0o644)
    assert passwords.write_entry(path, "$argon2id$new") is True
    assert path.read_text() == "admin:$apr1$x$y\npiranha:$argon2id$new\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["piranha.passwd"]  # no temp file left
    assert passwords.read_entry(path).hash == "$argon2id$new"
    with pytest.raises(passwords.PasswordFileError, match="piranha passwd"):
        passwords.read_entry(tmp_path / "missing")
    (tmp_path / "other").write_text("root:xyz\n")
    with pytest.raises(passwords.PasswordFileError, match="no entry for user `piranha`"):
        passwords.read_entry(tmp_path / "other")


def test_passwd_prompts_twice_without_echo_and_refuses_a_mismatch(tmp_path, monkeypatch, capsys):
    path = tmp_path / "piranha.passwd"
    answers = iter(["one", "two"])
    prompts: list[str] = []
    monkeypatch.setattr(
        passwd_cli.getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers)
    )
    assert passwd_cli.main(["--passwd-file", str(path)]) == 1
    assert prompts == ["New Password: ", "Verify: "]
    assert capsys.readouterr().err.strip() == "Passwords do not match."
    assert not path.exists()
    answers = iter(["same", "same"])
    assert passwd_cli.main(["--passwd-file", str(path)]) == 0
    assert "Adding password for user piranha" in capsys.readouterr().err
    assert passwords.verify(passwords.read_entry(path).hash, "same")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_passwd_on_the_command_line_warns_and_stdin_reads_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p"
    assert passwd_cli.main(["--passwd-file", str(path), "hunter2"]) == 0
    err = capsys.readouterr().err
    assert "Warning: sensitive information entered on command line." in err
    monkeypatch.setattr("sys.stdin", io.StringIO("from a script\r\nignored\n"))
    assert passwd_cli.main(["--passwd-file", str(path), "--stdin"]) == 0
    assert "Updating password for user piranha" in capsys.readouterr().err
    assert passwords.verify(passwords.read_entry(path).hash, "from a script")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert passwd_cli.main(["--passwd-file", str(path), "--stdin"]) == 1
    assert "empty" in capsys.readouterr().err


def test_passwd_says_why_it_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert passwd_cli.main(["--passwd-file", str(blocker / "sub" / "p"), "x"]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_login_with_an_old_htpasswd_hash_upgrades_it_to_argon2(tmp_path):
    site = make_site(tmp_path)
    passwords.write_entry(site.settings.passwd_file, apr1("old secret", "saltsalt"))
    client = site.client(login=False)
    assert log_in(client, password="old secret").status_code == 303
    stored = passwords.read_entry(site.settings.passwd_file).hash
    assert stored.startswith("$argon2id$") and passwords.verify(stored, "old secret")
    assert client.get("/control").status_code == 200  # the session survives its own upgrade
