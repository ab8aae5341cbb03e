"""The gateway's library side: what enabling it would change (plan), no I/O."""
