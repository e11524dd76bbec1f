"""Email notifications over SMTP. Notifying is best effort: it never fails a run."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from dagster import ConfigurableResource, get_dagster_logger


class NotifierResource(ConfigurableResource):
    """Sends review-needed / completed / failed notices. Disabled when `smtp_host` is empty."""

    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = "aura-engine@localhost"
    recipients: str = ""  # comma-separated
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host and self.recipients)

    def notify(self, subject: str, body: str) -> bool:
        """Send one message; returns False (and logs) instead of raising on any failure."""
        if not self.enabled:
            return False
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.recipients
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            get_dagster_logger().warning(f"notification {subject!r} not sent: {exc}")
            return False
        return True
