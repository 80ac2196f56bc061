"""Callers' phone numbers (geo.services.hotline.normalise_phone): the forms a call-taker types,
each with the one form stored; anything else refused with the accepted forms named."""

from __future__ import annotations

import pytest

from geo.errors import InvalidInput
from geo.services.hotline import Caller, normalise_phone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("021-62345678", "021-62345678"),
        ("(021) 6234 5678", "021-62345678"),
        ("02162345678", "021-62345678"),
        ("010 8888 8888", "010-88888888"),
        ("0755-26543210", "0755-26543210"),
        ("075526543210", "0755-26543210"),
        ("0571-8765432", "0571-8765432"),
        ("021-62345678-801", "021-62345678-801"),
        ("021-62345678转801", "021-62345678-801"),
    ],
)
def test_accepted_forms(typed: str, stored: str) -> None:
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "12812345678", "1381234567", "138123456789", "021-1234", "0755-12345678",
     "62345678", "abc", "021-62345678-1234567", "+1 415 555 0100"],
)  # fmt: skip
def test_refused_forms(typed: str) -> None:
    with pytest.raises(InvalidInput, match=r"mobile number .* landline with its area code"):
        normalise_phone(typed)


def test_a_caller_is_checked_whole() -> None:
    caller = Caller(" 李女士 ", "+86 13812345678", "  ", True).checked()
    assert caller == Caller("李女士", "13812345678", None, True)
    with pytest.raises(InvalidInput, match="name"):
        Caller("", "13812345678").checked()
    with pytest.raises(InvalidInput, match="callback time"):
        Caller("李女士", "13812345678", "x" * 101).checked()
