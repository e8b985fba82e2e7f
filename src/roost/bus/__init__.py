"""The bus: envelopes, the durable inbox and outbox, the router and live events."""
