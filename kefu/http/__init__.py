"""The Tornado side: routes, the loop↔actor bridge, sockets, the WebSocket protocol."""
