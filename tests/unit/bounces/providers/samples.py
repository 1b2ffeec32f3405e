"""The providers' own documented sample payloads, as their documentation prints them
(long header lists shortened), for the mapping and hook tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syndicator.config import Settings

# Amazon SES developer guide, "Bounce notification with a DSN".
SES_BOUNCE: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "john@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "callerIdentity": "IAM_user_or_role_name",
        "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": '"John Doe" <john@example.com>'},
            {"name": "To", "value": '"Jane Doe" <jane@example.com>'},
            {"name": "Message-ID", "value": "custom-message-ID"},
            {"name": "Subject", "value": "Hello"},
        ],
        "commonHeaders": {
            "from": ["John Doe <john@example.com>"],
            "date": "Wed, 27 Jan 2016 14:05:45 +0000",
            "to": ["Jane Doe <jane@example.com>, Mary Doe <mary@example.com>"],
            "messageId": "custom-message-ID",
            "subject": "Hello",
        },
    },
}

# Amazon SES developer guide, "Complaint notification with a feedback report".
SES_COMPLAINT: dict[str, Any] = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "source": "john@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
        "commonHeaders": {
            "from": ["John Doe <john@example.com>"],
            "date": "Wed, 27 Jan 2016 14:05:45 +0000",
            "to": ["Richard Doe <richard@example.com>"],
            "messageId": "custom-message-ID",
            "subject": "Hello",
        },
    },
}

# Amazon SNS developer guide: the HTTP/S notification and subscription confirmation
# (Signature and SigningCertURL are filled in by the test that signs them).
SNS_NOTIFICATION: dict[str, Any] = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Subject": "Amazon SES Email Event Notification",
    "Message": json.dumps(SES_BOUNCE),
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "SignatureVersion": "1",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"
    "&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0",
}
SNS_SUBSCRIPTION: dict[str, Any] = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Message": "You have chosen to subscribe to the topic "
    "arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37fb687f5d51e6e2",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
}

# Postmark's webhook documentation: the bounce and spam complaint webhooks.
POSTMARK_BOUNCE: dict[str, Any] = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, "
    "mailbox not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}
POSTMARK_SPAM_COMPLAINT: dict[str, Any] = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}

# Mailgun's webhook payload documentation: permanent failure and complaint (the signature
# block is added by the test that signs them).
MAILGUN_PERMANENT_FAILURE: dict[str, Any] = {
    "event-data": {
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1521233195.375624,
        "log-level": "error",
        "event": "failed",
        "severity": "permanent",
        "reason": "suppress-bounce",
        "envelope": {
            "sender": "bob@sandbox5f0e7f3b.mailgun.org",
            "transport": "smtp",
            "targets": "alice@example.com",
        },
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False},
        "recipient-domain": "example.com",
        "message": {
            "headers": {
                "to": "Alice <alice@example.com>",
                "message-id": "20130503192659.13651.20287@sandbox5f0e7f3b.mailgun.org",
                "from": "Bob <bob@sandbox5f0e7f3b.mailgun.org>",
                "subject": "Test permanent_fail webhook",
            },
            "attachments": [],
            "size": 111,
        },
        "recipient": "alice@example.com",
        "delivery-status": {
            "attempt-no": 1,
            "message": "",
            "code": 605,
            "description": "Not delivering to previously bounced address",
            "session-seconds": 0.0,
        },
        "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    }
}
MAILGUN_COMPLAINED: dict[str, Any] = {
    "event-data": {
        "id": "-Agny091SquKnsrW2NEKUA",
        "timestamp": 1521233123.501324,
        "log-level": "warn",
        "event": "complained",
        "envelope": {"sending-ip": "173.193.210.33"},
        "flags": {"is-test-mode": False},
        "message": {
            "headers": {
                "to": "Alice <alice@example.com>",
                "message-id": "20110215055645.25246.63817@sandbox5f0e7f3b.mailgun.org",
                "from": "Bob <bob@sandbox5f0e7f3b.mailgun.org>",
                "subject": "Test complained webhook",
            },
            "attachments": [],
            "size": 111,
        },
        "recipient": "alice@example.com",
        "campaigns": [],
        "tags": ["my_tag_1", "my_tag_2"],
        "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
    }
}

# SendGrid's event webhook reference: a batch with a delivery, a bounce, a block, a
# deferral and a spam report.
SENDGRID_EVENTS: list[dict[str, Any]] = [
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "delivered",
        "ip": "168.1.1.1",
        "category": "cat facts",
        "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "response": "250 OK",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": "cat facts",
        "sg_event_id": "xhyPjFNSqNl7l3AMQBWO6A==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "550 5.7.1 blocked by policy",
        "status": "5.7.1",
        "type": "blocked",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "deferred",
        "category": "cat facts",
        "sg_event_id": "rJuXAbKDTgWiO9E0L_CkKQ==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "response": "400 try again later",
        "attempt": "5",
    },
    {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "spamreport",
        "category": "cat facts",
        "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
]

# SendGrid's published verification vector (its libraries' tests): a key, a timestamp,
# a body and the signature SendGrid made over them.
SENDGRID_VECTOR = {
    "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdb"
    "cwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==",
    "signature": "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVR"
    "amr2nlxFDWYNH2j/0=",
    "timestamp": "1588788367",
    "body": b'{"category":"example_payload","event":"test_event","message_id":"message_id"}',
}

# What the mappings read of the settings: our bounce address, and the key VERP tags use.
SETTINGS = Settings(
    data_dir=Path("/nonexistent"),
    database_url="sqlite://",
    redis_url=None,
    base_url="https://press.example.kr",
    cms_secrets=(),
    admin_token=None,
    smtp_url=None,
    token_keys=("test-token-key",),
    bounce_address="bounces@news.example.kr",
)
