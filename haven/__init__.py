"""Haven: receiving a mass influx of displaced people."""
