from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "haven.identity"
    label = "identity"
    verbose_name = "Identity"
