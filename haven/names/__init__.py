"""Cross-script name handling for Haven. Pure Python: nothing here imports Django."""

from haven.names.scripts import Script, detect_script, name_problem

__all__ = ["Script", "detect_script", "name_problem"]
