"""SNS messages are believed only when signed by a certificate from an SNS host."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.providers.common import Forbidden, Malformed, Unverified
from syndicator.bounces.providers.sns import (
    check_topic,
    check_url,
    envelope,
    signing_string,
    verify_signature,
)
from syndicator.config import SNS_CERT_HOSTS
from tests.unit.bounces.providers.samples import SNS_NOTIFICATION, SNS_SUBSCRIPTION
from tests.unit.bounces.providers.signing import self_signed, sign_sns

CERT = self_signed()
OTHER = self_signed()
URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "sample", [SNS_NOTIFICATION, SNS_SUBSCRIPTION], ids=["notification", "confirmation"]
)
def test_a_documented_message_signed_with_the_certificate_verifies(
    sample: dict, version: str
) -> None:
    message = envelope(sign_sns(sample, CERT.key, URL, version))
    verify_signature(message, CERT.pem)


@pytest.mark.parametrize("version", ["1", "2"])
def test_another_keys_signature_is_refused(version: str) -> None:
    message = envelope(sign_sns(SNS_NOTIFICATION, OTHER.key, URL, version))
    with pytest.raises(Unverified) as refused:
        verify_signature(message, CERT.pem)
    assert refused.value.field == "Signature"


def test_the_signing_string_is_snss_field_order_with_subject_only_when_present() -> None:
    without_subject = {k: v for k, v in SNS_NOTIFICATION.items() if k != "Subject"}
    text = signing_string(without_subject).decode()
    assert text.startswith("Message\n") and "Subject\n" not in text
    assert text.endswith(f"TopicArn\n{SNS_NOTIFICATION['TopicArn']}\nType\nNotification\n")
    assert "SubscribeURL\n" in signing_string(SNS_SUBSCRIPTION).decode()


def test_an_unsigned_message_is_unverified_before_anything_else() -> None:
    with pytest.raises(Unverified) as refused:
        envelope({"Type": "nonsense"})
    assert refused.value.field == "Signature"


def test_an_unknown_signature_version_is_refused() -> None:
    message = envelope({**sign_sns(SNS_NOTIFICATION, CERT.key, URL), "SignatureVersion": "3"})
    with pytest.raises(Unverified):
        verify_signature(message, CERT.pem)


def test_a_signed_message_missing_a_signed_field_is_malformed() -> None:
    signed = sign_sns(SNS_NOTIFICATION, CERT.key, URL)
    del signed["TopicArn"]
    with pytest.raises(Malformed) as refused:
        envelope(signed)
    assert refused.value.field == "TopicArn"


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "https://sns.ap-northeast-2.amazonaws.com/x.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
    ],
)
def test_sns_hosts_pass_the_host_rule(url: str) -> None:
    assert check_url(url, SNS_CERT_HOSTS, "SigningCertURL") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-west-2.amazonaws.com/x.pem",
        "https://sns.us-west-2.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.us-west-2.amazonaws.com/x.pem",
        "https://s3.amazonaws.com/x.pem",
        "https://user@sns.us-west-2.amazonaws.com/x.pem",
        "https://sns.us-west-2.amazonaws.com:8443/x.pem",
        "https://xsns.us-west-2.amazonaws.com/x.pem",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_other_urls_fail_the_host_rule(url: str) -> None:
    with pytest.raises(Unverified) as refused:
        check_url(url, SNS_CERT_HOSTS, "SigningCertURL")
    assert refused.value.field == "SigningCertURL"


def test_a_verified_message_from_another_topic_is_forbidden() -> None:
    with pytest.raises(Forbidden) as refused:
        check_topic(SNS_NOTIFICATION, ("arn:aws:sns:ap-northeast-2:111122223333:bounces",))
    assert refused.value.field == "TopicArn"
    check_topic(SNS_NOTIFICATION, (SNS_NOTIFICATION["TopicArn"],))


_SIGNED_FIELDS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(_SIGNED_FIELDS), value=st.text(max_size=40), version=st.sampled_from("12")
)
def test_any_change_to_a_signed_field_breaks_the_signature(
    name: str, value: str, version: str
) -> None:
    signed = sign_sns(SNS_NOTIFICATION, CERT.key, URL, version)
    changed = copy.deepcopy(signed)
    changed[name] = value
    if changed[name] == signed[name] or (name == "Type" and value != "Notification"):
        return  # the same message, or one of another type (refused as malformed)
    with pytest.raises(Unverified):
        verify_signature(envelope(changed), CERT.pem)
