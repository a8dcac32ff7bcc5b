"""A TCP relay that can hold back what one side sends: a replica kept behind its primary.

:class:`HoldableLink` listens on a free port of 127.0.0.1 and relays every connection it
accepts to a target address. While it is *held*, what the target sends (upstream →
client) is kept in a buffer instead of being forwarded, while what the client sends still
reaches the target. A Redis replica told ``replicaof 127.0.0.1 <link.port>`` then stops
receiving the replication stream, yet its ``REPLCONF ACK`` still reaches the primary: the
primary knows the replica is behind (``WAIT`` returns 0), and if the primary dies the
replica never gets what was held (:meth:`HoldableLink.drop_held`).

Threads: one accept thread per link, and two pump threads per relayed connection (one per
direction), all daemons. The public methods are called from any thread (the test's).
The standard library only.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_CHUNK = 65536


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways (wakes a thread blocked in ``recv``) and close it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Pipe:
    """One relayed connection: the accepted ``client`` socket and its ``upstream`` socket
    to the target. ``lock`` guards ``held`` and ``buffer`` and serialises every send to
    the client, so that a flush and live bytes never interleave."""

    def __init__(self, client: socket.socket, upstream: socket.socket, held: bool) -> None:
        self.client = client
        self.upstream = upstream
        self.lock = threading.Lock()
        self.held = held
        self.buffer = bytearray()

    def close(self) -> None:
        """Close both sockets (idempotent). Thread-safe."""
        _shut(self.client)
        _shut(self.upstream)

    def flush(self) -> None:
        """Send the buffer to the client and stop holding. Called with ``lock`` held, from
        :meth:`HoldableLink.release`."""
        self.held = False
        data, self.buffer = bytes(self.buffer), bytearray()
        try:
            if data:
                self.client.sendall(data)
        except OSError:
            self.close()  # its pump threads see it and forget the pipe


class HoldableLink:
    """A threaded TCP relay from ``127.0.0.1:port`` to ``target`` whose upstream → client
    direction can be held (see the module docstring).

    Args:
        target: The (host, port) every accepted connection is relayed to.

    The relay starts listening in the constructor. Every public method is thread-safe.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()  # guards _held, _pipes, _closed; taken before a pipe's
        self._held = False
        self._closed = False
        self._pipes: set[_Pipe] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"link-{self.port}-accept")
        self._acceptor.start()

    # --- public API (any thread) ----------------------------------------------------------

    @property
    def held(self) -> bool:
        """Whether upstream bytes are being held back now."""
        return self._held

    @property
    def connections(self) -> int:
        """How many relayed connections are open."""
        with self._lock:
            return len(self._pipes)

    def held_bytes(self) -> int:
        """How many upstream bytes are waiting in the buffers (all connections)."""
        with self._lock:
            pipes = list(self._pipes)
        total = 0
        for pipe in pipes:
            with pipe.lock:
                total += len(pipe.buffer)
        return total

    def hold(self) -> None:
        """From now on keep what the target sends in a buffer instead of forwarding it, on
        every open connection and on those accepted later. Client → target bytes keep
        flowing. The end of a connection is not held: when the target closes, the client
        is closed at once and what was held for it is lost (what a dead primary never
        sent)."""
        with self._lock:
            self._held = True
            for pipe in self._pipes:
                with pipe.lock:
                    pipe.held = True

    def release(self) -> None:
        """Send what was held to the clients (in order, before any newer byte), then
        forward normally again."""
        with self._lock:
            self._held = False
            pipes = list(self._pipes)
        for pipe in pipes:
            with pipe.lock:
                pipe.flush()

    def drop_held(self) -> None:
        """Discard what is held (the bytes a dead primary never sent); the link stays
        held. Releasing afterwards leaves a gap in the client's stream: drop, then end
        the connection (kill the target, or :meth:`close`)."""
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            with pipe.lock:
                pipe.buffer.clear()

    def close(self) -> None:
        """Stop listening and close every connection (held bytes are lost). Idempotent."""
        with self._lock:
            self._closed = True
            pipes = list(self._pipes)
            self._pipes.clear()
        _shut(self._listener)
        for pipe in pipes:
            pipe.close()
        self._acceptor.join(5)

    def __enter__(self) -> HoldableLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- threads --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        """The accept thread: relay each accepted connection until :meth:`close`."""
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _shut(client)  # the target is down: refuse as it would
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    _shut(client)
                    _shut(upstream)
                    return
                pipe = _Pipe(client, upstream, held=self._held)
                self._pipes.add(pipe)
            for target, direction in ((self._pump_up, "up"), (self._pump_down, "down")):
                threading.Thread(target=target, args=(pipe,), daemon=True,
                                 name=f"link-{self.port}-{direction}").start()

    def _forget(self, pipe: _Pipe) -> None:
        """Close ``pipe`` and drop it from the set. Called on a pump thread, holding no
        pipe lock (lock order: the link's, then a pipe's)."""
        pipe.close()
        with self._lock:
            self._pipes.discard(pipe)

    def _pump_up(self, pipe: _Pipe) -> None:
        """Pump thread, client → target: always forwarded."""
        try:
            while data := pipe.client.recv(_CHUNK):
                pipe.upstream.sendall(data)
        except OSError:
            pass
        self._forget(pipe)

    def _pump_down(self, pipe: _Pipe) -> None:
        """Pump thread, target → client: forwarded, or buffered while held."""
        try:
            while data := pipe.upstream.recv(_CHUNK):
                with pipe.lock:
                    if pipe.held:
                        pipe.buffer += data
                    else:
                        pipe.client.sendall(data)
        except OSError:
            pass
        self._forget(pipe)
