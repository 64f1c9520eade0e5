"""tools/check_ee.py (`make lint`) fails, naming the file, when the example execution environment would be built
without a file it names: ansible-builder itself only warns and exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools import check_ee

pytest.importorskip("ansible_builder", reason="ansible-builder comes with the lint requirements (make lint)")


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """certops-aws-<version>.tar.gz as built, then community-crypto-3.0.5.tar.gz."""
    _collections, built = check_ee.build_tarballs(tmp_path_factory.mktemp("tarballs"))
    assert [path.name for path in built] == list(check_ee.expected_tarballs().values())
    return built


def edited_example(tmp_path: Path, edit) -> Path:
    """A copy of the example, alone in a folder of its own, changed by edit(definition)."""
    definition = yaml.safe_load(check_ee.EXAMPLE.read_text())
    edit(definition)
    example = tmp_path / "examples" / check_ee.EXAMPLE.name
    example.parent.mkdir()
    example.write_text(yaml.safe_dump(definition, sort_keys=False))
    return example


def test_the_example_installs_both_collections_offline_from_their_tarballs(tmp_path, tarballs):
    assert check_ee.check_example(check_ee.EXAMPLE, tarballs, tmp_path) == []


def test_a_missing_community_crypto_tarball_fails_naming_it(tmp_path, tarballs):
    certops_only = tarballs[:1]

    problems = check_ee.check_example(check_ee.EXAMPLE, certops_only, tmp_path)

    assert any("lacks community-crypto-3.0.5.tar.gz" in problem for problem in problems), problems
    assert any("installed community.crypto None, not 3.0.5" in problem for problem in problems), problems


def test_no_tarball_at_all_fails_with_ansible_builders_warning(tmp_path):
    problems = check_ee.check_example(check_ee.EXAMPLE, [], tmp_path)

    assert "ansible-builder create: No matches for '../../build/collections/*.tar.gz' in additional_build_files." in (
        problems
    )
    assert any("lacks certops-aws-" in problem for problem in problems), problems


def test_missing_build_files_fail_naming_them(tmp_path, tarballs):
    def add_missing_files(definition: dict) -> None:
        definition["additional_build_files"] += [
            {"src": "files/ansible.cfg", "dest": "configs"},
            {"src": "/nonexistent/ansible.cfg", "dest": "configs"},
        ]

    problems = check_ee.check_example(edited_example(tmp_path, add_missing_files), tarballs, tmp_path / "work")

    assert problems == [
        "ansible-builder create: No matches for 'files/ansible.cfg' in additional_build_files.",
        "ansible-builder create: User build file /nonexistent/ansible.cfg does not exist.",
    ]


def test_an_example_that_does_not_list_community_crypto_fails(tmp_path, tarballs):
    def drop_community_crypto(definition: dict) -> None:
        galaxy = definition["dependencies"]["galaxy"]
        galaxy["collections"] = [entry for entry in galaxy["collections"] if entry["name"] != "community.crypto"]

    problems = check_ee.check_example(edited_example(tmp_path, drop_community_crypto), tarballs, tmp_path / "work")

    assert problems == ["execution-environment.yml does not list community.crypto in dependencies.galaxy.collections"]
