"""The admin CLI's handling of API keys: any key can be named on the command line, chosen keys are long enough
(issue 17: a generated key starting with `-` could not be revoked)."""

from __future__ import annotations

import pytest
from lagoon import admin
from lagoon.services.organizations import generate_api_key

DASHED = "-x9Kq2LmPz7Vb4Nc8Rt1Yw6Hs3Jd5Gf0Ae"  # 35 characters, starts like an option


@pytest.mark.parametrize(
    "argv",
    [
        ["revoke-key", DASHED],
        ["revoke-key", "--", DASHED],
        ["revoke-key", f"--api-key={DASHED}"],
        ["revoke-key", "--api-key", DASHED[1:]],
    ],
)
def test_revoke_key_takes_any_key(argv):
    args = admin.parse_arguments(argv)
    assert args.command == "revoke-key"
    assert args.api_key in (DASHED, DASHED[1:])
    assert args.api_key == argv[-1].removeprefix("--api-key=")


@pytest.mark.parametrize(
    "argv", [["revoke-key"], ["revoke-key", "one", "--api-key=two"], ["revoke-key", "a", "b"]]
)
def test_revoke_key_takes_exactly_one_key(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        admin.parse_arguments(argv)
    assert exited.value.code == 2
    assert "usage: python -m lagoon.admin" in capsys.readouterr().err


def test_a_chosen_key_starting_with_a_dash_is_written_with_an_equals_sign():
    args = admin.parse_arguments(["create-org", "Acme", f"--api-key={DASHED}"])
    assert (args.name, args.api_key) == ("Acme", DASHED)
    args = admin.parse_arguments(["add-key", "org-id", f"--api-key={DASHED}"])
    assert (args.organization_id, args.api_key) == ("org-id", DASHED)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("admin-e2e-second-key", "an API key has at least 32 characters (20 given)"),
        ("x" * 31, "an API key has at least 32 characters (31 given)"),
        (
            "with a space" + "x" * 30,
            "an API key is printable ASCII without spaces (it is sent in an HTTP header)",
        ),
        ("é" + "x" * 40, "an API key is printable ASCII without spaces (it is sent in an HTTP header)"),
    ],
)
def test_a_short_or_unsendable_chosen_key_is_refused_before_anything_is_touched(
    key, message, capsys, tmp_path
):
    # (no local stack runs in tmp_path: had the CLI gone on, it would have failed on the target, exit 2)
    for command in (["create-org", "Acme"], ["add-key", "org-id"]):
        code = admin.main(["--data-dir", str(tmp_path), *command, f"--api-key={key}"])
        assert code == 1
        assert capsys.readouterr().err == f"lagoon.admin: invalid: {message}\n"


def test_a_key_of_32_printable_characters_is_accepted():
    assert admin.checked_api_key("k" * 32) == "k" * 32
    assert admin.checked_api_key(DASHED) == DASHED
    assert admin.checked_api_key(None) is None


def test_generated_keys_are_43_letters_and_digits_never_an_option():
    keys = {generate_api_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(len(k) == 43 and k.isascii() and k.isalnum() for k in keys)
    assert all(admin.parse_arguments(["revoke-key", k]).api_key == k for k in list(keys)[:50])
