"""Script detection and name checks (haven.names, pure Python)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.names import Script, detect_script, name_problem


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Հասմիկ", Script.ARMENIAN),
        ("Асмик", Script.CYRILLIC),
        ("Hasmik", Script.LATIN),
        ("Art’ur", Script.LATIN),
        ("Ter-Petrosyan", Script.LATIN),
        ("Hasмик", Script.MIXED),
        ("", Script.NONE),
        ("--", Script.NONE),
    ],
)
def test_detect_script(text: str, script: Script) -> None:
    assert detect_script(text) is script


@pytest.mark.parametrize("name", ["Հասմիկ", "Асмик", "Hasmik", "Ter-Petrosyan", "O'Hara", "Žaklin"])
def test_real_names_pass(name: str) -> None:
    assert name_problem(name) is None


def test_decomposed_accents_pass() -> None:
    assert name_problem("Z\u030caklin") is None


@given(st.text(max_size=150))
def test_name_problem_never_crashes_and_flags_mixed_scripts(text: str) -> None:
    problem = name_problem(text)
    if detect_script(text) is Script.MIXED:
        assert problem is not None
    if problem is None:
        assert text.strip()
        assert len(text) <= 100


def test_translatable_name_sentences_match_the_names_module() -> None:
    """haven.registry.schemas carries the catalogue's copy of every NameProblem sentence."""
    from haven.names import NameProblem
    from haven.registry.schemas import NAME_PROBLEMS

    assert set(NAME_PROBLEMS) == set(NameProblem.MESSAGES)
    for code, english in NameProblem.MESSAGES.items():
        assert str(NAME_PROBLEMS[code]) == english
