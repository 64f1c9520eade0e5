"""The version matrix's own decisions: the floors it derives, the cells it declares, the locks it installs from."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tools import matrix, pythons


def test_floors_turn_every_floor_into_an_exact_version(tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\nboto3>=1.34.0\nbotocore >= 1.34.0  # why\n\ncryptography>=42.0.0\n")

    assert matrix.floors(requirements) == "boto3==1.34.0\nbotocore==1.34.0\ncryptography==42.0.0\n"


@pytest.mark.parametrize("line", ["boto3", "boto3<2", "boto3~=1.34", "boto3>=1.34,<2"])
def test_floors_refuse_a_requirement_without_a_plain_floor(tmp_path: Path, line: str):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{line}\n")

    with pytest.raises(matrix.MatrixError, match="names no `>=` floor"):
        matrix.floors(requirements)


def test_the_floors_lock_pins_exactly_the_floors_of_requirements_txt():
    floors = dict(line.split("==") for line in matrix.floors(matrix.ROOT / "requirements.txt").split())
    locked = matrix.read_lock(matrix.VENVS["floors-3.9"].lock_file)

    assert {name: locked[name] for name in floors} == floors


def test_every_cell_and_venv_has_a_committed_lock_and_requirement_files():
    for name, venv in matrix.VENVS.items():
        assert venv.lock_file.is_file(), name
        for requirement_file in venv.inputs:
            assert (matrix.ROOT / requirement_file).is_file(), (name, requirement_file)
    used = {cell.controller for cell in matrix.CELLS} | {cell.target for cell in matrix.CELLS if cell.target}
    assert used <= set(matrix.VENVS)


def test_controller_cells_cover_every_series_the_collection_claims():
    runtime = (matrix.ROOT / "meta" / "runtime.yml").read_text()
    assert 'requires_ansible: ">=2.17.0"' in runtime
    series = sorted(
        p.stem.removeprefix("ansible-core-") for p in (matrix.ROOT / "requirements").glob("ansible-core-*.txt")
    )

    assert series == ["2.17", "2.18", "2.19", "2.20", "2.21"]
    for name in series:
        assert f"controller-{name}" in matrix.CELLS_BY_NAME
        assert f"sanity-{name}" in matrix.CELLS_BY_NAME


def test_default_series_locks_pin_the_ansible_core_of_their_series():
    for series in sorted(set(pythons.DEFAULT_SERIES.values())):
        pinned = (matrix.ROOT / f"requirements/ansible-core-{series}.txt").read_text().split("ansible-core==")[1]
        assert matrix.read_lock(matrix.LOCKS / f"default-{series}.txt")["ansible-core"] == pinned.strip()


def test_find_python_finds_this_interpreter_series():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = pythons.find_python(version)

    assert found is not None
    assert pythons._runs(found, version)
    assert pythons.find_python("2.1") is None


def support_rows() -> list[list[str]]:
    readme = (matrix.ROOT / "README.md").read_text()
    section = readme.split("\n## Support\n", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines() if line[:4] == "| 2."
    ]


def test_readme_support_table_names_only_what_a_cell_runs():
    rows = support_rows()
    assert len(rows) == 8
    for core, controller_python, target_python, sdks, tests in rows:
        series = core.rsplit(".", 1)[0]
        assert f"ansible-core=={core}" in (matrix.ROOT / f"requirements/ansible-core-{series}.txt").read_text()
        controller = matrix.VENVS[f"controller-{series}"]
        assert controller.python == controller_python, core
        triple = sdks.replace("*", "").split(":")[0].split("(")[0].split("/")
        expected = {"boto3": triple[0].strip(), "botocore": triple[1].strip(), "cryptography": triple[2].strip()}
        if tests.startswith("unit"):  # a controller cell: the modules run in the controller's venv
            candidates = [controller]
        else:
            assert series == matrix.NEWEST_CONTROLLER.rsplit("-", 1)[1]
            candidates = [venv for name, venv in matrix.VENVS.items() if name.startswith(("target-", "floors-"))]
        matching = [
            venv
            for venv in candidates
            if venv.python == target_python
            and {name: matrix.read_lock(venv.lock_file)[name] for name in expected} == expected
        ]
        assert matching, (core, target_python, sdks)
