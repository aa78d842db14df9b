"""A TCP relay in front of a service's endpoint, for tests that need the
network to misbehave: it forwards bytes both ways (one thread, bounded
buffers, so back-pressure passes through) and, on request, resets the
connection to the service (SO_LINGER 0: an RST, as a peer that dies with
unread data or a middlebox that drops the connection). An end of file from
either side closes both (bytes still in the relay are dropped)."""

import selectors
import socket
import struct
import threading

BUF = 256 * 1024  # bytes held per direction before the relay stops reading


class Relay:
    def __init__(self, host, port):
        self.target = (host, port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._resets = 0
        self._reset_done = threading.Event()
        self._stop = False
        self.error = None  # what stopped the relay's thread, if anything did
        self.held_upstream = 0  # bytes waiting for the service to read them
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reset(self, timeout=10):
        """Reset every connection to the service (and close the client's);
        returns once the relay has done it."""
        self._reset_done.clear()
        with self._lock:
            self._resets += 1
        self._wake_w.send(b"r")
        if not self._reset_done.wait(timeout):
            raise RuntimeError("the relay did not reset within %s s: %s" % (timeout, self.error))

    def close(self):
        self._stop = True
        self._wake_w.send(b"s")
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError("the relay's thread did not stop")
        for s in (self.listener, self._wake_r, self._wake_w):
            s.close()
        if self.error:
            raise RuntimeError("the relay failed: %s" % self.error)

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001 - reported by reset() and close()
            self.error = repr(e)
            self._reset_done.set()

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        pairs = []  # [client, upstream, to_upstream bytearray, to_client bytearray]
        done_resets = 0

        def interest(p):
            c, u, up, down = p
            ce = (selectors.EVENT_READ if len(up) < BUF else 0) | \
                (selectors.EVENT_WRITE if down else 0)
            ue = (selectors.EVENT_READ if len(down) < BUF else 0) | \
                (selectors.EVENT_WRITE if up else 0)
            for s, ev, role in ((c, ce, "c"), (u, ue, "u")):
                key = sel.get_map().get(s.fileno())
                if ev == 0:
                    if key:
                        sel.unregister(s)
                elif key:
                    sel.modify(s, ev, (p, role))
                else:
                    sel.register(s, ev, (p, role))

        def drop(p, rst):
            c, u = p[0], p[1]
            for s in (c, u):
                if sel.get_map().get(s.fileno()):
                    sel.unregister(s)
            if rst:
                u.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            u.close()
            c.close()
            pairs.remove(p)

        while not self._stop:
            for key, ev in sel.select(0.2):
                if key.data == "accept":
                    c, _ = self.listener.accept()
                    u = socket.create_connection(self.target)
                    for s in (c, u):
                        s.setblocking(False)
                    p = [c, u, bytearray(), bytearray()]
                    pairs.append(p)
                    interest(p)
                    continue
                if key.data == "wake":
                    self._wake_r.recv(64)
                    continue
                p, role = key.data
                if p not in pairs:
                    continue
                c, u, up, down = p
                # what this socket sends on (read from it), what waits for it
                sock, onward, waiting = (c, up, down) if role == "c" else (u, down, up)
                try:
                    if ev & selectors.EVENT_READ:
                        d = sock.recv(65536)
                        if not d:
                            drop(p, False)
                            continue
                        onward += d
                    if ev & selectors.EVENT_WRITE and waiting:
                        n = sock.send(waiting)
                        del waiting[:n]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    drop(p, False)
                    continue
                interest(p)
            with self._lock:
                want = self._resets
            if want > done_resets:
                done_resets = want
                for p in list(pairs):
                    drop(p, True)
                self._reset_done.set()
            self.held_upstream = sum(len(p[2]) for p in pairs)
        for p in list(pairs):
            drop(p, False)
