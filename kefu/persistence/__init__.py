"""Redis persistence: every key, the client, the embedded server, stores and the writer."""
