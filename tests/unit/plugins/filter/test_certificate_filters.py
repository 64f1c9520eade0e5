"""The controller-side filters: x509_certificate_info and rotation_plan."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certops.aws.plugins.filter.certificate import FilterModule
from tools.certs import make_certificate, private_key_pem

FILTERS = FilterModule().filters()
NEW_PEM = make_certificate("new-one")


def held(certificate_id, days):
    info = FILTERS["x509_certificate_info"](make_certificate(certificate_id, days=days))
    return {**info, "certificate_id": certificate_id, "status": "Active", "upload_date": "2026-01-01T00:00:00Z"}


def test_x509_certificate_info_filter():
    fields = FILTERS["x509_certificate_info"](make_certificate("filtered", days=20))
    assert fields["subject"] == "O=certops,CN=filtered" and fields["days_to_expiry"] == 19
    assert int(fields["serial_number_hex"], 16) == int(fields["serial_number"])


@pytest.mark.parametrize(("body", "expected"), [("nope", "is not PEM"), (private_key_pem(), "contains a private key")])
def test_x509_certificate_info_filter_refuses_clearly(body, expected):
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS["x509_certificate_info"](body)
    assert expected in str(error.value)
    assert "MII" not in str(error.value)


@pytest.mark.parametrize("new", [NEW_PEM, FILTERS["x509_certificate_info"](NEW_PEM)], ids=["pem", "info"])
def test_rotation_plan_filter_converts_its_arguments(new):
    plan = FILTERS["rotation_plan"]([held("OLD", days=100)], new, "30", "yes")
    assert plan["due"] and plan["reason"] == "the rotation is forced (force)" and plan["retire"] == ["OLD"]
    assert not FILTERS["rotation_plan"]([held("OLD", days=100)], new, 30)["due"]
    with pytest.raises(AnsibleFilterError, match="rotation_plan"):
        FILTERS["rotation_plan"]([held("OLD", days=100)], new, "thirty")


def test_rotation_plan_filter_needs_more_than_a_fingerprint():
    fingerprint = FILTERS["x509_certificate_info"](NEW_PEM)["fingerprint_sha256"]
    with pytest.raises(AnsibleFilterError, match="a fingerprint alone does not tell whether it is valid"):
        FILTERS["rotation_plan"]([], fingerprint)


def test_rotation_plan_filter_blocks_an_expired_new_certificate():
    expired = make_certificate("expired-new", days=-1, starts_in_days=-30)
    plan = FILTERS["rotation_plan"]([held("OLD", days=3)], expired, 30)
    assert plan["blocked"].startswith("cannot rotate: the new certificate expired on")
    assert plan["error_code"] == "CertificateExpired" and plan["retire"] == []
