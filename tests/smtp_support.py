"""Real SMTP peers on 127.0.0.1 for the mail tests: one that takes mail, one that never answers."""

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Session(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        received: list[str] = self.server.received  # type: ignore[attr-defined]
        self.wfile.write(b"220 test ESMTP\r\n")
        for raw in self.rfile:
            command = raw.decode().strip().upper()
            if command == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                lines = []
                for body_line in self.rfile:
                    if body_line in (b".\r\n", b".\n"):
                        break
                    lines.append(body_line.decode())
                received.append("".join(lines))
                self.wfile.write(b"250 queued\r\n")
            elif command == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list[str]]]:
    """A server accepting every message; yields its port and the raw messages it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Session)
    server.daemon_threads = True
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_smtp_server() -> Iterator[int]:
    """A server that accepts connections and never says a word (hung, or a firewall black-holing replies)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
