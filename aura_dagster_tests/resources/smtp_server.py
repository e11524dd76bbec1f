"""A real SMTP server on loopback for tests: `socketserver`, enough SMTP for `smtplib`.

It speaks the commands smtplib sends (EHLO / HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
undoes dot-stuffing and keeps every accepted message, parsed, with its envelope.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_to: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


def _address(argument: str) -> str:
    """`FROM:<a@b> SIZE=1` -> `a@b`."""
    value = argument.split(":", 1)[1].strip() if ":" in argument else argument
    value = value.split(" ", 1)[0] if not value.startswith("<") else value
    return value[1:value.index(">")] if value.startswith("<") and ">" in value else value


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpTcpServer
    timeout = 10

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self._reply("220 aura-test-smtp ready")
        mail_from: str | None = None
        rcpt_to: list[str] = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("ascii", "replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 aura-test-smtp")
            elif verb == "MAIL":
                mail_from, rcpt_to = _address(argument), []
                self._reply("250 OK")
            elif verb == "RCPT":
                if mail_from is None:
                    self._reply("503 MAIL first")
                    continue
                address = _address(argument)
                if address in self.server.reject_recipients:
                    self._reply(f"550 {address}: mailbox unavailable")
                    continue
                rcpt_to.append(address)
                self._reply("250 OK")
            elif verb == "DATA":
                if mail_from is None or not rcpt_to:
                    self._reply("503 MAIL and RCPT first")
                    continue
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                lines: list[bytes] = []
                while True:
                    data = self.rfile.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    data = data[1:] if data.startswith(b"..") else data
                    lines.append(data.rstrip(b"\r\n") + b"\n")  # wire CRLF -> \n
                message = message_from_bytes(b"".join(lines), policy=policy.default)
                self.server.deliver(ReceivedMail(mail_from, tuple(rcpt_to), message))
                mail_from, rcpt_to = None, []
                self._reply("250 OK: queued")
            elif verb == "RSET":
                mail_from, rcpt_to = None, []
                self._reply("250 OK")
            elif verb == "NOOP":
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


class _SmtpTcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, reject_recipients: frozenset[str]) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.reject_recipients = reject_recipients
        self.messages: list[ReceivedMail] = []
        self.arrived = threading.Condition()

    def deliver(self, mail: ReceivedMail) -> None:
        with self.arrived:
            self.messages.append(mail)
            self.arrived.notify_all()


class SmtpServer:
    """`with SmtpServer() as smtp:` -> listening on 127.0.0.1:`smtp.port`."""

    def __init__(self, reject_recipients: Iterable[str] = ()) -> None:
        self._server = _SmtpTcpServer(frozenset(reject_recipients))
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._server.arrived:
            return list(self._server.messages)

    def with_subject(self, fragment: str) -> list[ReceivedMail]:
        return [m for m in self.messages if fragment in m.subject]

    def wait_for(self, fragment: str, timeout: float = 5.0) -> ReceivedMail:
        """The first message whose subject contains `fragment`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._server.arrived:
            while True:
                for mail in self._server.messages:
                    if fragment in mail.subject:
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail with {fragment!r} in its subject; got "
                                         f"{[m.subject for m in self._server.messages]}")
                self._server.arrived.wait(left)
