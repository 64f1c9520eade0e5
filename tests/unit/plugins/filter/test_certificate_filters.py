"""The controller-side filters: x509_certificate_info and rotation_plan."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certops.aws.plugins.filter.certificate import FilterModule
from tests.unit.plugins.module_utils.test_rotation import NEW, certificate
from tools.certs import make_certificate, private_key_pem

FILTERS = FilterModule().filters()


def test_x509_certificate_info_filter():
    fields = FILTERS["x509_certificate_info"](make_certificate("filtered", days=20))
    assert fields["subject"] == "O=certops,CN=filtered" and fields["days_to_expiry"] == 19


@pytest.mark.parametrize(("body", "expected"), [("nope", "is not PEM"), (private_key_pem(), "contains a private key")])
def test_x509_certificate_info_filter_refuses_clearly(body, expected):
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS["x509_certificate_info"](body)
    assert expected in str(error.value)
    assert "MII" not in str(error.value)


def test_rotation_plan_filter_converts_its_arguments():
    plan = FILTERS["rotation_plan"]([certificate("OLD", days=100)], NEW, "30", "yes")
    assert plan["due"] and plan["reason"] == "rotation forced"
    with pytest.raises(AnsibleFilterError, match="rotation_plan"):
        FILTERS["rotation_plan"]([certificate("OLD")], NEW, "thirty")
