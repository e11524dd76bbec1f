"""Email notifications over SMTP. Notifying is best effort: it never fails a run."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import getaddresses

from dagster import ConfigurableResource, get_dagster_logger


class NotifierResource(ConfigurableResource):
    """Sends review-needed / completed / failed notices. Disabled when `smtp_host` is empty."""

    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = "aura-engine@localhost"
    recipients: str = ""  # comma-separated
    timeout_seconds: float = 5.0

    @property
    def recipient_list(self) -> list[str]:
        return [address for _, address in getaddresses([self.recipients]) if address]

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host.strip() and self.recipient_list)

    def notify(self, subject: str, body: str) -> bool:
        """Send one message; returns False (and logs) instead of raising on any failure."""
        if not self.enabled:
            return False
        try:
            message = EmailMessage()
            message["From"] = self.sender
            message["To"] = ", ".join(self.recipient_list)
            # A subject is one header line: a newline in it (from an id or a reason) would
            # make the email package refuse the whole message.
            message["Subject"] = " ".join(subject.split())
            message.set_content(body)
            with smtplib.SMTP(self.smtp_host.strip(), self.smtp_port,
                              timeout=self.timeout_seconds) as smtp:
                smtp.send_message(message)
        except Exception as exc:  # best effort: whatever goes wrong, the run goes on
            get_dagster_logger().warning(
                f"notification {subject!r} not sent: {type(exc).__name__}: {exc}")
            return False
        return True
