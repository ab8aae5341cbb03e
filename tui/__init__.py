"""The terminal UI (``peerwork tui``): the PC's control panel, built with textual.

It holds no business logic: it reads the agent's typed models through the
async control client and its event stream, and asks the agent to act.
"""
