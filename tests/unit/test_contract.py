"""The one written contract between translator and rules
(tools/kthinlto/contract.py, which writes rules/private/contract.bzl)."""

import glob
import os
import re

from tools.kthinlto import contract, emit

RULES = os.path.join(os.path.dirname(contract.BZL))


def test_contract_bzl_is_what_contract_py_writes():
    with open(contract.BZL) as f:
        assert f.read() == contract.bzl_text(), (
            "rules/private/contract.bzl differs from what tools/kthinlto/contract.py writes: "
            "edit contract.py, then run python3 -m tools.kthinlto.contract --write")


def test_rules_name_every_mnemonic_through_the_contract():
    literal = re.compile(r'mnemonic = "')
    for path in glob.glob(os.path.join(RULES, "*.bzl")):
        with open(path) as f:
            text = f.read()
        assert not literal.search(text), f"{path}: a mnemonic written as a string"
    used = set()
    for path in glob.glob(os.path.join(RULES, "*.bzl")):
        with open(path) as f:
            used |= set(re.findall(r"MNEMONIC\.([A-Z_]+)", f.read()))
    assert used == set(contract.MNEMONIC), set(contract.MNEMONIC) ^ used


def test_the_translator_writes_the_schema_the_rules_read():
    with open(os.path.join(RULES, "schema.bzl")) as f:
        assert 'load(":contract.bzl", "KERNEL_SCHEMA")' in f.read()
    assert emit.schema_version() == contract.KERNEL_SCHEMA
