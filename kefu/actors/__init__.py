"""The actors: dispatcher, agents, sessions, their supervisor and the messages between them."""
