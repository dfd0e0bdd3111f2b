"""Our Standard Webhooks signatures, checked against the independent `standardwebhooks` library."""

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as TheirError

from core.webhook_signing import (
    WebhookVerificationError,
    delivery_headers,
    generate_secret,
    verify,
    verify_once,
)

BODY = json.dumps({"type": "submission.verified", "data": {"code": "ABCD2345"}}).encode()


def test_our_signature_verifies_with_the_reference_library() -> None:
    secret = generate_secret()
    headers = delivery_headers(secrets=[secret], message_id="msg_1", body=BODY)
    payload = Webhook(secret).verify(BODY.decode(), headers)
    assert payload == {"type": "submission.verified", "data": {"code": "ABCD2345"}}


def test_reference_library_signature_verifies_with_ours() -> None:
    secret = generate_secret()
    stamp = int(time.time())
    from datetime import UTC, datetime

    signature = Webhook(secret).sign("msg_2", datetime.fromtimestamp(stamp, tz=UTC), BODY.decode())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
    }
    assert verify(headers=headers, body=BODY, secrets=[secret]) == "msg_2"


def test_during_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = delivery_headers(secrets=[old, new], message_id="msg_3", body=BODY)
    assert len(headers["webhook-signature"].split()) == 2
    assert Webhook(old).verify(BODY.decode(), headers) is not None
    assert Webhook(new).verify(BODY.decode(), headers) is not None
    assert verify(headers=headers, body=BODY, secrets=[new]) == "msg_3"
    assert verify(headers=headers, body=BODY, secrets=[generate_secret(), old]) == "msg_3"


@pytest.mark.parametrize(
    ("offset", "message"),
    [(-301, "webhook-timestamp is too old"), (301, "webhook-timestamp is in the future")],
)
def test_stale_and_future_timestamps_are_refused(offset: int, message: str) -> None:
    secret = generate_secret()
    now = 1_800_000_000
    headers = delivery_headers(secrets=[secret], message_id="m", body=BODY, timestamp=now + offset)
    with pytest.raises(WebhookVerificationError, match=message):
        verify(headers=headers, body=BODY, secrets=[secret], now=now)
    with pytest.raises(TheirError):
        Webhook(secret).verify(BODY.decode(), headers)


def test_timestamps_at_the_edge_of_the_tolerance_pass() -> None:
    secret = generate_secret()
    now = 1_800_000_000
    for offset in (-300, 300):
        headers = delivery_headers(
            secrets=[secret], message_id="m", body=BODY, timestamp=now + offset
        )
        assert verify(headers=headers, body=BODY, secrets=[secret], now=now) == "m"


@pytest.mark.parametrize("tamper", ["body", "id", "secret", "missing"])
def test_tampering_is_refused(tamper: str) -> None:
    secret = generate_secret()
    headers = delivery_headers(secrets=[secret], message_id="msg_4", body=BODY)
    body, secrets = BODY, [secret]
    if tamper == "body":
        body = BODY.replace(b"ABCD", b"ABCE")
    elif tamper == "id":
        headers["webhook-id"] = "msg_5"
    elif tamper == "secret":
        secrets = [generate_secret()]
    else:
        del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verify(headers=headers, body=body, secrets=secrets)


def test_a_replayed_id_is_ignored() -> None:
    secret = generate_secret()
    headers = delivery_headers(secrets=[secret], message_id="msg_replay", body=BODY)
    first = verify_once(headers=headers, body=BODY, secrets=[secret], source="test")
    again = verify_once(headers=headers, body=BODY, secrets=[secret], source="test")
    assert first == ("msg_replay", True)
    assert again == ("msg_replay", False)
