from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "haven.registry"
    label = "registry"
    verbose_name = "Registry"
