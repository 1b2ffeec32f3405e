"""The admin API for partners' client certificates: set, show (never the key), remove."""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from syndicator.store.db import Database
from tests.integration.test_partner_admin import ADMIN, create
from tests.unit.partners.test_client_certs import _PEM, _issue, _key_pem


def test_a_client_certificate_is_set_shown_without_its_key_and_removed(
    client: httpx.Client, store: Database
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue("연합뉴스 client", key, None).public_bytes(_PEM).decode()
    partner = create(client)
    path = f"/api/partners/{partner['id']}/client-certificate"
    assert client.get(path, headers=ADMIN).status_code == 404
    other = _key_pem(ec.generate_private_key(ec.SECP256R1()))
    refused = client.put(path, json={"certificate": cert, "key": other}, headers=ADMIN)
    assert refused.status_code == 422 and "does not match" in refused.text
    answer = client.put(path, json={"certificate": cert, "key": _key_pem(key)}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    shown = client.get(path, headers=ADMIN).json()
    assert shown["subject"] == "CN=연합뉴스 client" and "key" not in shown
    with store.session() as session:
        stored = session.execute(text("SELECT key FROM partner_client_certs")).scalar_one()
    assert "PRIVATE KEY" not in stored
    assert serialization.load_pem_private_key(_key_pem(key).encode(), None)
    assert client.delete(path, headers=ADMIN).status_code == 204
    assert client.get(path, headers=ADMIN).status_code == 404
    assert client.put(path, json={"certificate": cert}, headers={}).status_code in (401, 403)
