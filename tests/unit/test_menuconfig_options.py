"""tools/kthinlto/menuconfig.py's pure parts (the real kernel:
tests/e2e/test_menuconfig.py)."""

import dataclasses

import pytest

from tools.kthinlto import declaration, menuconfig
from tools.kthinlto.records import TranslationError


def test_changed_lists_new_values_and_unset_options():
    before = {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "m", "CONFIG_S": '"x"'}
    after = {"CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_S": '"y"', "CONFIG_NEW": "1"}
    assert menuconfig.changed(before, after) == {
        "CONFIG_B": "y", "CONFIG_C": "n", "CONFIG_NEW": "1", "CONFIG_S": '"y"'}
    assert menuconfig.changed(before, dict(before)) == {}


def test_fragment_text_replaces_an_option_in_place_and_appends_new_ones():
    existing = "# mine\nCONFIG_A=y\n# CONFIG_B is not set\n"
    assert menuconfig.fragment_text(existing, {"CONFIG_B": "m", "CONFIG_A": "n", "CONFIG_C": "y"}) == (
        "# mine\n# CONFIG_A is not set\nCONFIG_B=m\nCONFIG_C=y\n")
    assert menuconfig.fragment_text("", {"CONFIG_X": '"s"'}) == 'CONFIG_X="s"\n'


def test_set_becomes_scripts_config_arguments():
    assert menuconfig.script_args(["CONFIG_A=y", "CONFIG_B=m", "CONFIG_C=n", "CONFIG_D=16",
                                   'CONFIG_E="-x"']) == [
        "--enable", "A", "--module", "B", "--disable", "C", "--set-val", "D", "16",
        "--set-str", "E", "-x"]
    with pytest.raises(TranslationError, match="--set=A=y: give CONFIG_X=VALUE"):
        menuconfig.script_args(["A=y"])


def test_adding_a_fragment_changes_one_line_of_the_declaration():
    decl = declaration.Declaration(source="linux-source-6.1", config="tinyconfig",
                                   fragments=("@kthinlto//configs:bootable.config",))
    before = declaration.to_json(decl).splitlines()
    after = declaration.to_json(dataclasses.replace(
        decl, fragments=(*decl.fragments, "//kernels:kernel.menuconfig.config"))).splitlines()
    assert len(before) == len(after)
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [4]
