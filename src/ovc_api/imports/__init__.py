"""Spreadsheet import of children, with their households and cases (CSV or XLSX)."""
