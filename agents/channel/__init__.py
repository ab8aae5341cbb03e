"""The agent-to-agent channel: mutual TLS with the peer keys, typed requests.

``tls`` builds the contexts, ``wire`` moves frames over asyncio streams,
``handlers`` is the registry services add their request types to,
``server``/``client`` are the two ends, ``service`` plugs it into the agent.
"""
