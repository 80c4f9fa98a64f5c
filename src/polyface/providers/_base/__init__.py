"""The shared provider engine: config, transport, retries, rate limits, catalog, telemetry."""
