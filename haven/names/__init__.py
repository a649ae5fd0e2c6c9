"""Cross-script name handling for Haven. Pure Python: nothing here imports Django."""

from haven.names.scripts import NameProblem, Script, detect_script, name_problem

__all__ = ["NameProblem", "Script", "detect_script", "name_problem"]
