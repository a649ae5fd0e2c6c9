from typing import Any

from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "haven.tracing"
    label = "tracing"
    verbose_name = "Tracing"

    def ready(self) -> None:
        from haven.registry.events import households_registered

        households_registered.connect(_rematch, dispatch_uid="tracing.rematch")


def _rematch(sender: Any, household_ids: list[int], **kwargs: Any) -> None:
    """New registrations re-match the open tracing requests that hold one of their names."""
    from haven.tracing.actions import rematch_new_households

    rematch_new_households(household_ids)
