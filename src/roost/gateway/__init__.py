"""The gateway: WebSocket and HTTP API inside `roost run`."""
