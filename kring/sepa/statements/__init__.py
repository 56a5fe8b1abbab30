"""Bank statements read into plain data: camt.053 (ISO 20022 XML) and CODA (Febelfin, Belgium).

`parse_statement(data)` looks at the content (not the file name) and returns a `ParsedStatement`
with one `ParsedTransaction` per underlying transaction: a batch-booked collection with details
gives one transaction per debit; without details, one transaction for the whole batch carrying
the batch reference. Anything broken raises `StatementFileError` naming the line; nothing is
returned half.
"""

from kring.sepa.statements.base import ParsedStatement, ParsedTransaction, StatementFileError


def detect_format(data: bytes) -> str:
    """'camt053' or 'coda', from the first bytes of the file."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "camt053"
    if head[:1] == b"0" and (len(head) >= 128):
        return "coda"
    if b"<" in head[:200]:
        return "camt053"
    return "coda"


def parse_statement(data: bytes) -> ParsedStatement:
    if detect_format(data) == "camt053":
        from kring.sepa.statements.camt import parse_camt053

        return parse_camt053(data)
    from kring.sepa.statements.coda import parse_coda

    return parse_coda(data)


__all__ = ["ParsedStatement", "ParsedTransaction", "StatementFileError", "detect_format", "parse_statement"]
