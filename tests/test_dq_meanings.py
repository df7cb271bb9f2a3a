"""The German meanings of the data-quality checks (expectations/meanings.de.yaml) match the suites."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kirz.config import EXPECTATIONS_DIR
from kirz.validation import LAYERS, suite_modules

MEANINGS_DE = EXPECTATIONS_DIR / "meanings.de.yaml"


@pytest.fixture(scope="module")
def modules():
    """Every suite module under expectations/raw and expectations/marts, loaded as validation loads them."""
    mods = [mod for layer in LAYERS for mod in suite_modules(layer)]
    files = {
        p.resolve() for layer in LAYERS for p in (EXPECTATIONS_DIR / layer).glob("*.py") if not p.name.startswith("_")
    }
    assert {Path(mod.__file__).resolve() for mod in mods} == files
    return mods


@pytest.fixture(scope="module")
def meanings() -> dict:
    data = yaml.safe_load(MEANINGS_DE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{MEANINGS_DE} is not a mapping"
    return data


def test_expectation_ids_unique_across_modules(modules):
    # meanings.de.yaml is keyed by the bare expectation id, which needs ids unique across suites
    counts = Counter(eid for mod in modules for eid in mod.SEVERITY)
    assert not [eid for eid, n in counts.items() if n > 1]


def test_every_expectation_has_a_german_meaning(modules, meanings):
    defined = {eid for mod in modules for eid in mod.SEVERITY}
    assert defined, "no expectations found"
    missing = sorted(defined - set(meanings))
    extra = sorted(set(meanings) - defined)
    assert not missing, f"expectations without a German meaning: {missing}"
    assert not extra, f"German meanings for expectations no suite defines: {extra}"
    empty = sorted(eid for eid, text in meanings.items() if not isinstance(text, str) or not text.strip())
    assert not empty, f"empty German meanings: {empty}"


def test_no_german_meaning_says_auszubildende(meanings):
    word = re.compile(r"auszubildende", re.IGNORECASE)
    offending = sorted(eid for eid, text in meanings.items() if word.search(str(text)))
    assert not offending, f"use 'Kursteilnehmende', not 'Auszubildende': {offending}"
