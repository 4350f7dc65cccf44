"""Signed links: bound to lead, rep and purpose, expiring, and nothing else gets through."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.links import LinkError, grant, sign, verify
from tests.fakes import T0

SECRET = "link-secret-for-tests"


def test_a_token_carries_its_lead_rep_purpose_and_expiry() -> None:
    g = grant("ld_1", "ana", "claim", now=T0)

    back = verify(sign(g, SECRET), SECRET, now=T0 + timedelta(hours=1))

    assert back == replace(g, expires=g.expires.replace(microsecond=0))
    assert (back.lead_id, back.rep, back.purpose) == ("ld_1", "ana", "claim")


def test_two_grants_for_the_same_action_are_different_tokens() -> None:
    first, second = (sign(grant("ld_1", "ana", "claim", now=T0), SECRET) for _ in range(2))
    assert first != second


def test_an_expired_token_is_refused_as_expired() -> None:
    token = sign(grant("ld_1", "ana", "open", now=T0, ttl=timedelta(minutes=5)), SECRET)
    with pytest.raises(LinkError) as refused:
        verify(token, SECRET, now=T0 + timedelta(minutes=5))
    assert refused.value.reason == "expired"


def test_a_token_signed_with_another_secret_is_tampered() -> None:
    token = sign(grant("ld_1", "ana", "open", now=T0), "another-secret")
    with pytest.raises(LinkError) as refused:
        verify(token, SECRET, now=T0)
    assert refused.value.reason == "tampered"


def test_changing_the_lead_in_a_token_breaks_its_signature() -> None:
    # A token for lead A cannot be turned into one for lead B.
    token_a = sign(grant("ld_a", "ana", "claim", now=T0), SECRET)
    token_b = sign(grant("ld_b", "ana", "claim", now=T0), SECRET)
    forged = token_b.split(".")[0] + "." + token_a.split(".")[1]
    with pytest.raises(LinkError) as refused:
        verify(forged, SECRET, now=T0)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("token", ["", ".", "abc", "a.b.c", "!!!.???", "x" * 2000 + ".y"])
def test_garbage_is_malformed_or_tampered_never_an_exception(token: str) -> None:
    with pytest.raises(LinkError) as refused:
        verify(token, SECRET, now=T0)
    assert refused.value.reason in ("malformed", "tampered")


@given(st.text(max_size=300))
def test_no_string_gets_through_or_raises_anything_but_link_error(token: str) -> None:
    with pytest.raises(LinkError):
        verify(token, SECRET, now=T0)


def test_grants_refuse_unknown_purposes_and_ids_that_would_break_the_payload() -> None:
    with pytest.raises(ValueError):
        grant("ld_1", "ana", "delete", now=T0)
    with pytest.raises(ValueError):
        grant("ld|1", "ana", "open", now=T0)
