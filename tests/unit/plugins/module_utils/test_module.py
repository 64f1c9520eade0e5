"""The base of every module: what a result's invocation shows of the options."""

from __future__ import annotations

from ansible_collections.certops.aws.plugins.module_utils.certificate import load_certificate
from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_rotation as rotation_module
from tools.certs import make_certificate, private_key_pem


def test_pem_text_in_any_option_is_shown_as_its_fingerprint_and_nothing_else_changes():
    from ansible_collections.certops.aws.plugins.module_utils.module import shown_in_invocation

    pem = make_certificate("shown", days=30)
    key = private_key_pem()
    shown = shown_in_invocation(
        {
            "users": [{"user_name": "bob", "new_certificate": pem}, {"user_name": "eve", "new_certificate": key}],
            "certificate_body": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "threshold_days": 30,
            "user_name": "bob",
        }
    )
    fingerprint = load_certificate(pem).fingerprint_sha256
    assert shown["users"][0] == {
        "user_name": "bob",
        "new_certificate": f"(PEM certificate, SHA-256 fingerprint {fingerprint})",
    }
    assert shown["users"][1] == {
        "user_name": "eve",
        "new_certificate": f"(PEM text of {len(key)} characters, not shown)",
    }
    assert shown["certificate_body"].startswith("(PEM text of ")
    assert (shown["threshold_days"], shown["user_name"]) == (30, "bob")


def test_a_rotation_result_shows_the_new_certificates_by_fingerprint_only(iam, run, cert):
    """ansible-core up to 2.20 puts invocation in every result, 2.21 when asked: either way, no body in it."""
    from ansible.module_utils.ansible_release import __version__

    new = cert("new")
    args = {"users": [{"user_name": "alice", "new_certificate": new}], "verify_delay": 0}
    if tuple(int(part) for part in __version__.split(".")[:2]) >= (2, 21):
        args["_ansible_inject_invocation"] = True
    result = run(rotation_module, args)
    assert new.splitlines()[3] not in str(result)
    (entry,) = result["invocation"]["module_args"]["users"]
    assert entry["new_certificate"].startswith("(PEM certificate, SHA-256 fingerprint ")


def test_a_no_log_option_is_masked_whole_in_the_invocation_never_described(iam, run):
    from ansible.module_utils.ansible_release import __version__

    from ansible_collections.certops.aws.plugins.modules import iam_signing_certificate_info as info_module

    args = {"user_name": "alice", "access_key": "testing", "secret_key": "-----BEGIN secret"}
    if tuple(int(part) for part in __version__.split(".")[:2]) >= (2, 21):
        args["_ansible_inject_invocation"] = True
    result = run(info_module, args)
    assert result["invocation"]["module_args"]["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
