"""Cross-script name handling for Haven. Pure Python: nothing here imports Django."""

from haven.names.keys import NameForms, Part, name_forms, name_key, normalise, patronymic_root
from haven.names.scripts import NameProblem, Script, detect_script, name_problem
from haven.names.translit import System, armenian_to_latin, cyrillic_to_latin, to_latin

__all__ = [
    "NameForms",
    "NameProblem",
    "Part",
    "Script",
    "System",
    "armenian_to_latin",
    "cyrillic_to_latin",
    "detect_script",
    "name_forms",
    "name_key",
    "name_problem",
    "normalise",
    "patronymic_root",
    "to_latin",
]
