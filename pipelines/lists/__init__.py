"""The caseworkers' lists (活用主体): one CSV and one .xlsx per support office and night."""
