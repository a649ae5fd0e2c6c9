from django.apps import AppConfig


class AssistanceConfig(AppConfig):
    name = "haven.assistance"
    label = "assistance"
    verbose_name = "Assistance"
