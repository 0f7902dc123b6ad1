"""Formula-injection defence for anything meant to be opened in a spreadsheet.

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`,
`-` or `@` as a formula (OWASP "CSV Injection"; tab and carriage return are
on OWASP's list too, because some programs strip them and then see the
formula). A company name like `=HYPERLINK("http://evil","点此")` would run
in the reader's spreadsheet.

Choice: prefix such a text cell with an apostrophe `'`. Spreadsheets show
the apostrophe, so nothing is hidden from the reader and no character of the
original is lost: removing the first `'` gives the value back. We do not
strip or replace characters, because these are public records and a leading
`-` or `+` can be meaningful text.

Only the spreadsheet formats (BOM-CSV, XLSX, the site's "download this
table" CSV, which mirrors this list in assets/table-download.js) are
neutralised; the plain CSV and the JSON stay faithful to the data. Apply
this to text only: numbers from number/integer fields are written as
numbers, and a negative number is not a formula.
"""
from __future__ import annotations

# OWASP: equals, plus, minus, at, tab (0x09), carriage return (0x0D).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def neutralise(value):
    """`'` + value when a text value starts like a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return PREFIX + value
    return value
