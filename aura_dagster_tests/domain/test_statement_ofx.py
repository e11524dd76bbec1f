"""OFX features that broke the parser, each on a file that shows it.

Expected values come from the files themselves (read by eye, see the fixture SOURCES.md),
never from running the parser.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from aura_dagster.domain.processors.bank_statement import StatementParseError, parse_statements
from aura_dagster.domain.processors.bank_statement.model import Statement
from aura_dagster.domain.processors.bank_statement.ofx_export import read_strict
from aura_dagster.domain.processors.bank_statement.ofx_reader import (
    decode,
    parse_tree,
    read_accounts,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statements" / "ofx"
D = Decimal


def _one(name: str) -> Statement:
    (statement,) = parse_statements((FIXTURES / name).read_bytes(), name)
    return statement


def _rows(statement: Statement) -> list[tuple[dt.date, Decimal]]:
    return [(t.date, t.amount) for t in statement.transactions]


def _assert_unknown_opening(statement: Statement) -> None:
    assert statement.opening_balance is None
    assert statement.opening_balance_source == "absent"
    assert statement.reconciles is None


def test_empty_closing_balance_falls_back_to_the_tolerant_reader() -> None:
    statement = _one("gen_ofx1_empty_ledger_balance.ofx")
    assert _rows(statement) == [(dt.date(2026, 8, 1), D("640.00")),
                                (dt.date(2026, 8, 4), D("-42.18")),
                                (dt.date(2026, 8, 4), D("-42.18")),
                                (dt.date(2026, 8, 11), D("1210.30"))]
    assert statement.transactions[0].description == "MOBILE DEPOSIT"  # empty <NAME>
    # Unknown, and not replaced by the available balance (3000.00) or a derived figure.
    assert statement.closing_balance is None
    _assert_unknown_opening(statement)
    assert statement.layout == "ofx1_sgml"
    assert any("strict mode" in w for w in statement.warnings)
    assert any("LEDGERBAL" in w and "unknown" in w for w in statement.warnings)


def test_empty_elements_in_a_closed_tag_file_keep_the_transaction() -> None:
    # ofxparse's own fixture: <NAME></NAME>, <FITID></FITID>, <BALAMT></BALAMT>.
    statement = _one("ofxparse_ofx-v102-empty-tags.ofx")
    assert _rows(statement) == [(dt.date(2018, 5, 7), D("12.34"))]
    assert statement.transactions[0].description == "CBA:Transfer"
    assert statement.closing_balance is None
    assert statement.layout == "ofx1_xml"


def test_xml_header_over_sgml_body_with_utf8_and_entities() -> None:
    statement = _one("gen_ofx2_header_sgml_body_utf8.ofx")
    assert statement.layout == "ofx2_sgml"
    assert [t.description for t in statement.transactions] == [
        "Café Crème & Co", "Müller GmbH", "Smith <Supplies>", "Renée Dupont"]
    assert _rows(statement)[-1] == (dt.date(2026, 7, 20), D("75.25"))
    assert statement.closing_balance == D("8910.15")
    assert statement.bank_name == "Banque Générée"


def test_whole_file_on_one_line_header_included() -> None:
    content = (FIXTURES / "gen_ofx1_whole_file_one_line.ofx").read_bytes()
    assert b"\n" not in content
    (statement,) = parse_statements(content, "one_line.ofx")
    assert _rows(statement) == [(dt.date(2026, 6, 2), D("1500.00")),
                                (dt.date(2026, 6, 3), D("-250.00")),
                                (dt.date(2026, 6, 10), D("320.45")),
                                (dt.date(2026, 6, 15), D("-89.99"))]
    assert statement.transactions[-1].description == "AT&T MOBILITY"
    assert statement.closing_balance == D("5480.46")
    assert statement.account_id == "5521"
    assert statement.layout == "ofx1_sgml"


def test_entities_and_cdata_are_decoded_by_the_tolerant_reader() -> None:
    content = (FIXTURES / "gen_ofx1_empty_ledger_balance.ofx").read_bytes().replace(
        b"<NAME>SHELL OIL 5512\n</STMTTRN>\n<STMTTRN>\n<TRNTYPE>CREDIT",
        b"<NAME>Smith &amp; Sons &#8211; Caf&#233;\n<MEMO><![CDATA[R&D <lab>]]>\n"
        b"</STMTTRN>\n<STMTTRN>\n<TRNTYPE>CREDIT", 1)
    (statement,) = parse_statements(content, "entities.ofx")
    assert statement.transactions[2].description == "Smith & Sons \u2013 Café R&D <lab>"
    assert len(statement.transactions) == 4


def test_three_to_five_decimals_and_evening_postings_keep_their_day() -> None:
    statement = _one("gen_ofx1_decimals_evening_postings.ofx")
    # 20260131203000[-5:EST] is 31 January at the bank, though 1 February in UTC.
    assert _rows(statement) == [(dt.date(2026, 1, 30), D("1000.00")),
                                (dt.date(2026, 1, 31), D("-250.50")),
                                (dt.date(2026, 1, 31), D("99.99")),
                                (dt.date(2026, 2, 1), D("-10.13"))]  # -10.12500 half-up
    assert statement.closing_balance == D("4839.37")  # 4839.369
    assert any("rounded half-up" in w for w in statement.warnings)


def test_investment_statement_counts_its_cash_legs() -> None:
    statement = _one("gen_ofx2_investment_cash_legs.ofx")
    assert statement.layout == "ofx_investment"
    assert _rows(statement) == [
        (dt.date(2026, 3, 2), D("5000.00")),  # INVBANKTRAN deposit
        (dt.date(2026, 3, 5), D("125.40")),  # INCOME (dividend), trade date
        (dt.date(2026, 3, 8), D("-1010.00")),  # BUYSTOCK, settles on the 8th
        (dt.date(2026, 3, 14), D("2495.50")),  # SELLSTOCK, settles on the 14th
        (dt.date(2026, 3, 20), D("-1200.00")),  # INVBANKTRAN withdrawal
        (dt.date(2026, 3, 31), D("-15.00"))]  # INVEXPENSE
    # REINVEST and the securities TRANSFER move no cash.
    assert any(w.startswith("2 investment transaction(s) without a cash leg")
               for w in statement.warnings)
    assert statement.closing_balance == D("6395.90")  # AVAILCASH
    _assert_unknown_opening(statement)


@pytest.mark.parametrize("name, count, credits, debits, closing", [
    ("ofxparse_fidelity.ofx", 17, "1160.40", "11687.07", "18073.98"),
    ("ofxparse_vanguard.ofx", 1, "4212.30", "0.00", None),
    ("asgrim_ofxdata-investments-oneline-xml.ofx", 1, "0.00", "545.88", None),
])
def test_real_investment_exports(name: str, count: int, credits: str, debits: str,
                                 closing: str | None) -> None:
    statement = _one(name)
    assert (len(statement.transactions), statement.total_credits, statement.total_debits) == (
        count, D(credits), D(debits))
    assert statement.closing_balance == (None if closing is None else D(closing))
    assert statement.layout == "ofx_investment"


def test_tolerant_reader_agrees_with_strict_ofxparse_where_both_read() -> None:
    compared = 0
    for path in sorted(FIXTURES.glob("*.ofx")):
        content = path.read_bytes()
        try:
            strict = read_strict(content)
        except Exception:  # strict refuses this file: the fallback case, tested above
            continue
        tolerant = read_accounts(parse_tree(decode(content)))
        assert [_key(a) for a in tolerant] == [_key(a) for a in strict], path.name
        compared += 1
    assert compared >= 10


def _key(account) -> tuple:  # type: ignore[no-untyped-def]
    return (account.kind, account.account_id, account.start, account.end, account.closing,
            sorted((r.date, r.amount, r.description) for r in account.rows))


def test_tolerant_reader_loses_no_transaction_to_a_missing_closing_tag() -> None:
    # Closed-tag body, an empty closing balance (so strict ofxparse refuses the file), the
    # first </STMTTRN> missing and amounts with thousands separators.
    content = (b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS>"
               b"<STMTRS><BANKACCTFROM><ACCTID>99887766</ACCTID></BANKACCTFROM><BANKTRANLIST>"
               b"<DTSTART>20260901</DTSTART><DTEND>20260930</DTEND>"
               b"<STMTTRN><DTPOSTED>20260902</DTPOSTED><TRNAMT>1,250.00</TRNAMT>"
               b"<FITID>a</FITID><NAME>WIRE IN</NAME>"
               b"<STMTTRN><DTPOSTED>20260903</DTPOSTED><TRNAMT>-2.500,10</TRNAMT>"
               b"<FITID>b</FITID><NAME>RENT</NAME></STMTTRN>"
               b"</BANKTRANLIST><LEDGERBAL><BALAMT></BALAMT></LEDGERBAL></STMTRS>"
               b"</STMTTRNRS></BANKMSGSRSV1></OFX>")
    (statement,) = parse_statements(content, "unclosed.ofx")
    assert [(t.date, t.amount, t.description) for t in statement.transactions] == [
        (dt.date(2026, 9, 2), D("1250.00"), "WIRE IN"),
        (dt.date(2026, 9, 3), D("-2500.10"), "RENT")]
    assert statement.closing_balance is None
    assert statement.layout == "ofx1_xml"


def test_a_transaction_without_a_readable_date_is_an_error_not_dropped() -> None:
    content = (FIXTURES / "gen_ofx1_empty_ledger_balance.ofx").read_bytes().replace(
        b"<DTPOSTED>20260804\n", b"<DTPOSTED>\n", 1)
    with pytest.raises(StatementParseError, match="G5-2"):
        parse_statements(content, "no_date.ofx")


def test_an_error_response_names_the_banks_reason() -> None:
    content = (b'<?xml version="1.0"?><?OFX OFXHEADER="200" VERSION="211"?><OFX>'
               b"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>2000</CODE>"
               b"<SEVERITY>ERROR</SEVERITY><MESSAGE>General Server Error</MESSAGE></STATUS>"
               b"</STMTTRNRS></BANKMSGSRSV1></OFX>")
    with pytest.raises(StatementParseError, match="code 2000: General Server Error") as caught:
        parse_statements(content, "error.ofx")
    assert caught.value.code == "STATEMENT_NO_TRANSACTIONS"


def test_ofxparse_is_imported_only_when_an_ofx_file_is_read() -> None:
    code = ("import sys, aura_dagster.domain.processors.bank_statement as b; "
            "print('ofxparse' in sys.modules, 'bs4' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
