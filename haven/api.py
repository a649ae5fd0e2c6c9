"""Haven's JSON API: one NinjaAPI, each app adding its router. OpenAPI document at /api/docs."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Haven API",
    version="1",
    description="Register arrivals, record crossing counts, read households. Every write is"
    " idempotent by a client-supplied UUID.",
    docs_url="/docs",
)
