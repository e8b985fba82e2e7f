"""Internals of the fake LLM server; import from ``tests.fakes.llm_server`` instead.

- ``script``: what the fake will answer and what it has received.
- ``wire``: pieces shared by both wire formats (SSE framing, chunking, headers).
- ``anthropic_wire`` / ``openai_wire``: each API's JSON, SSE and error format.
- ``server``: the HTTP server on 127.0.0.1 and its standalone entry point.
- ``prompt_cache``: each API's documented prompt caching, simulated (and the token estimate).
- ``summariser``: a deterministic answer to Roost's compaction (summary) requests.
"""
