"""Many accounts with ordinary Ansible: docs/examples/inventory.yml (one host per account, a profile each that
assumes a role) and playbooks/audit_expiring_certificates.yml, run with forks against the moto server.

moto keeps separate state per account; credentials from STS AssumeRole on arn:aws:iam::<account>:role/...
act in that account. The AWS config file is docs/examples/aws_config.example itself, with the STS endpoint
pointed at the server, as a user would point it at AWS.
"""

from __future__ import annotations

import csv
import shutil

import boto3
import pytest

from tests.e2e.helpers import REPO, CollectionPlaybook, upload

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "docs" / "examples"
AUDIT = CollectionPlaybook("certops.aws.audit_expiring_certificates")


@pytest.fixture
def aws_files(tmp_path, iam_endpoint):
    config = tmp_path / "aws_config"
    shutil.copyfile(EXAMPLES / "aws_config.example", config)
    credentials = tmp_path / "aws_credentials"
    credentials.write_text("[auditor]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    return {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ENDPOINT_URL_STS": iam_endpoint,
    }


def account_iam(iam_endpoint, profile):
    """A plain boto3 IAM client acting in the account the profile's role belongs to."""
    return boto3.session.Session(profile_name=profile).client("iam", endpoint_url=iam_endpoint)


def test_audit_across_two_accounts_with_forks(ansible, iam_endpoint, aws_files, monkeypatch, pem_file, tmp_path):
    for name, value in aws_files.items():
        monkeypatch.setenv(name, value)
    production = account_iam(iam_endpoint, "production-audit")
    development = account_iam(iam_endpoint, "development-audit")
    for client, users in ((production, ("alice", "bob")), (development, ("carol", "dave"))):
        for user in users:
            client.create_user(UserName=user)
    upload(production, pem_file("alice-soon", days=5)[1], user_name="alice")
    upload(production, pem_file("bob-later", days=300)[1], user_name="bob")
    carol = upload(development, pem_file("carol-soon", days=12)[1], user_name="carol", status="Inactive")
    # The accounts really are apart: each sees its own users only.
    assert [u["UserName"] for u in production.list_users()["Users"]] == ["alice", "bob"]
    assert [u["UserName"] for u in development.list_users()["Users"]] == ["carol", "dave"]

    reports = ansible.workdir / "reports"  # report_dir "reports", relative to where the command runs
    run = ansible.playbook(
        AUDIT,
        {"iam_endpoint_url": iam_endpoint, "report_dir": "reports", "expiring_within_days": 30},
        # Only the profiles may give credentials: the runner's dummy keys are blanked out.
        env={**aws_files, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        options=("-i", str(EXAMPLES / "inventory.yml"), "--forks", "2"),
    )
    assert run.rc == 0, run.output
    assert "development                : ok=" in run.stdout and "production                 : ok=" in run.stdout

    with open(reports / "expiring_signing_certificates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["account"], r["user_name"], r["status"]) for r in rows] == [
        ("production", "alice", "Active"),
        ("development", "carol", "Inactive"),
    ]
    assert rows[1]["certificate_id"] == carol and rows[0]["days_to_expiry"] == "4"
    assert rows[0]["subject"] == "O=certops,CN=alice-soon"

    markdown = (reports / "expiring_signing_certificates.md").read_text()
    assert "| account | user_name | certificate_id | status | not_after | days_to_expiry | subject |" in markdown
    assert f"| development | carol | {carol} | Inactive |" in markdown
    assert "2 certificate(s) in 2 account(s)." in markdown
    assert "bob" not in markdown
    assert f"Report written to {reports}" in run.stdout


def inventory_with_a_broken_account(tmp_path):
    """The example inventory, plus an account whose profile does not exist."""
    inventory = tmp_path / "inventory.yml"
    text = (EXAMPLES / "inventory.yml").read_text()
    inventory.write_text(text + "    staging:\n      aws_profile: staging-audit-missing\n")
    return inventory


def test_a_failed_account_is_in_the_report_as_failed_and_fails_the_play(
    ansible, iam_endpoint, aws_files, monkeypatch, pem_file, tmp_path
):
    for name, value in aws_files.items():
        monkeypatch.setenv(name, value)
    production = account_iam(iam_endpoint, "production-audit")
    production.create_user(UserName="alice")
    upload(production, pem_file("alice-soon", days=5)[1], user_name="alice")
    for check in (True, False):
        run = ansible.playbook(
            AUDIT,
            {"iam_endpoint_url": iam_endpoint, "report_dir": "reports"},
            env={**aws_files, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
            options=("-i", str(inventory_with_a_broken_account(tmp_path)), "--forks", "3"),
            check=check,
            diff=True,
        )
        assert run.rc == 2, run.output
        # No report printed whole as a diff (ansible-core before 2.19 still shows the report directory's creation).
        assert "account,user_name,certificate_id" not in run.stdout and "| account | user_name |" not in run.stdout
        assert "-----BEGIN CERTIFICATE-----" not in run.output
        assert "staging                    : ok=" in run.stdout and "failed=1" in run.stdout
        with open(ansible.workdir / "reports" / "expiring_signing_certificates.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        failed, *certificates = rows
        assert (failed["account"], failed["status"]) == ("staging", "AUDIT FAILED")
        assert failed["error"].startswith("ProfileNotFound: profile 'staging-audit-missing' is not in the AWS")
        assert [(r["account"], r["user_name"]) for r in certificates] == [("production", "alice")]
        markdown = (ansible.workdir / "reports" / "expiring_signing_certificates.md").read_text()
        assert "1 account(s) could not be audited: staging." in markdown
        (ansible.workdir / "reports" / "expiring_signing_certificates.csv").unlink()


@pytest.mark.parametrize(
    "inventory", ["all:\n  hosts: {}\n", "aws_accounts:\n  hosts: {}\n"], ids=["no-group", "empty"]
)
def test_an_inventory_without_accounts_fails_saying_how_to_give_them(ansible, iam_endpoint, tmp_path, inventory):
    path = tmp_path / "inventory.yml"
    path.write_text(inventory)
    run = ansible.playbook(AUDIT, {"iam_endpoint_url": iam_endpoint}, options=("-i", str(path)))
    assert run.rc == 2, run.output
    assert "no account to audit: the inventory has no host in the group aws_accounts" in run.stdout
    assert not (ansible.workdir / "reports").exists()
