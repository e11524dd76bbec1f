"""NotifierResource against a real SMTP server on loopback (see smtp_server.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from aura_dagster.resources.notifier import NotifierResource
from aura_dagster_tests.resources.smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_message_is_delivered_with_subject_sender_and_recipients(smtp: SmtpServer) -> None:
    notifier = NotifierResource(smtp_host=smtp.host, smtp_port=smtp.port,
                                sender="aura@lender.test",
                                recipients="ops@lender.test, risk@lender.test")

    assert notifier.enabled
    assert notifier.notify("Review needed: uw_1", "parked:\n- statements_reconcile failed")

    (mail,) = smtp.messages
    assert mail.subject == "Review needed: uw_1"
    assert mail.message["From"] == "aura@lender.test"
    assert mail.message["To"] == "ops@lender.test, risk@lender.test"
    assert mail.mail_from == "aura@lender.test"
    assert mail.rcpt_to == ("ops@lender.test", "risk@lender.test")
    assert mail.body.splitlines() == ["parked:", "- statements_reconcile failed"]


def test_non_ascii_text_and_a_line_starting_with_a_dot_arrive_intact(smtp: SmtpServer) -> None:
    notifier = NotifierResource(smtp_host=smtp.host, smtp_port=smtp.port,
                                recipients="ops@lender.test")
    body = "Café Müller — 3 statements\n.leading dot survives dot-stuffing\n"

    assert notifier.notify("Processing completed: uw_café", body)

    (mail,) = smtp.messages
    assert mail.subject == "Processing completed: uw_café"
    assert mail.body == body


def test_a_subject_with_a_line_break_is_sent_on_one_line(smtp: SmtpServer) -> None:
    """A newline in a subject used to make the email package raise out of notify()."""
    notifier = NotifierResource(smtp_host=smtp.host, smtp_port=smtp.port,
                                recipients="ops@lender.test")

    assert notifier.notify("Processing failed: uw_1\r\nBcc: someone@else.test", "body")

    (mail,) = smtp.messages
    assert mail.subject == "Processing failed: uw_1 Bcc: someone@else.test"
    assert mail.message["Bcc"] is None and mail.rcpt_to == ("ops@lender.test",)


@pytest.mark.parametrize("host, recipients", [("", "ops@lender.test"), ("   ", "ops@x.test"),
                                               ("127.0.0.1", ""), ("127.0.0.1", " , ")])
def test_disabled_without_host_or_recipients_sends_nothing(smtp: SmtpServer, host: str,
                                                           recipients: str) -> None:
    notifier = NotifierResource(smtp_host=host, smtp_port=smtp.port, recipients=recipients)

    assert not notifier.enabled
    assert notifier.notify("Processing failed: uw_1", "body") is False
    time.sleep(0.1)
    assert smtp.messages == []


def test_default_resource_is_disabled() -> None:
    assert NotifierResource().notify("Processing completed: uw_1", "body") is False


def test_unreachable_server_returns_false_without_raising() -> None:
    notifier = NotifierResource(smtp_host="127.0.0.1", smtp_port=_closed_port(),
                                recipients="ops@lender.test", timeout_seconds=2.0)

    started = time.monotonic()
    assert notifier.notify("Processing failed: uw_1", "body") is False
    assert time.monotonic() - started < 2.0


def test_a_server_that_never_answers_times_out_and_returns_false() -> None:
    """A silent server (accepts, never greets) costs the run `timeout_seconds`, no more."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        notifier = NotifierResource(smtp_host="127.0.0.1", smtp_port=listener.getsockname()[1],
                                    recipients="ops@lender.test", timeout_seconds=0.5)
        started = time.monotonic()
        assert notifier.notify("Processing failed: uw_1", "body") is False
        assert 0.4 < time.monotonic() - started < 3.0


def test_a_server_that_rejects_the_recipient_returns_false() -> None:
    """Only the recipient is refused: the SMTP error is swallowed like a network one."""
    with SmtpServer(reject_recipients={"blocked@lender.test"}) as smtp:
        notifier = NotifierResource(smtp_host=smtp.host, smtp_port=smtp.port,
                                    recipients="blocked@lender.test")
        assert notifier.notify("Processing failed: uw_1", "body") is False
        assert smtp.messages == []
