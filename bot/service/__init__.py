"""The long-running service of `vigil run` and what runs beside the pipeline.

`app` composes everything in one asyncio lifecycle (state lock, scheduler, delivery worker,
Telegram, reloads, signals); `http` serves `/healthz` and `/metrics`; `metrics` keeps the
Prometheus figures; `health` is the one judgement of health shared with `vigil health`;
`view` is what the listener and metrics may read of the service (protocols, so that the
lower layers never import the service that composes them).
"""
