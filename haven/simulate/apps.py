from django.apps import AppConfig


class SimulateConfig(AppConfig):
    name = "haven.simulate"
    label = "simulate"
    verbose_name = "Influx simulator"
