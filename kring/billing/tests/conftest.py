"""Fixtures of the billing tests. `smtp_sink`: a real SMTP server on 127.0.0.1 that Django sends to.

def test_something(smtp_sink):
    send_invoice_email(invoice)
    [message] = smtp_sink.messages          # email.message.EmailMessage, parsed
    smtp_sink.fail_next_data = 1            # the next message is refused with 451 (temporary)
    smtp_sink.refuse_recipients.add("x@example.test")   # 550 for that recipient
"""

import email
import email.policy
import logging
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


class SmtpSink:
    """What an SMTP server received, and switches to make it refuse."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.peers: list = []  # the client address of each accepted message: one per SMTP connection
        self.fail_next_data = 0
        self.refuse_recipients: set[str] = set()
        self._lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.fail_next_data:
                self.fail_next_data -= 1
                return "451 4.3.0 Temporary failure, please try again later"
            self.envelopes.append(envelope)
            self.peers.append(session.peer)
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_sink(settings):
    """A local SMTP server for this test, with Django's SMTP backend pointed at it."""
    sink = SmtpSink()
    sink.port = _free_port()
    server_log = logging.getLogger("mail.log")  # aiosmtpd tells every command at INFO
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield sink
    finally:
        controller.stop()
        server_log.setLevel(level)


@pytest.fixture
def sender_details(db):
    """The association as it appears on invoices, with a bank account for transfers."""
    from kring.billing.models import BillingSettings
    from kring.core.models import Association

    association = Association.current()
    association.name = "Vereniging Kring Eëndracht"
    association.street, association.house_number = "Stationsweg", "12"
    association.postcode, association.city = "3511 AA", "Utrecht"
    association.kvk_number = "40123456"
    association.vat_number = "NL001234567B01"
    association.email = "penningmeester@kring.test"
    association.website = "https://kring.test"
    association.save()
    billing_settings = BillingSettings.current()
    billing_settings.iban = "NL91 ABNA 0417 1643 00"
    billing_settings.bic = "ABNANL2A"
    billing_settings.account_holder = ""
    billing_settings.save()
    return association, billing_settings
