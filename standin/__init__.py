"""A stand-in municipal financial accounting system (財務会計システム) for the
demo, the tests and the benchmark of bulk entry: login, a 支出負担行為 form
with server-side validation, a confirmation page, a voucher number, a search
by reference, and switches that make it slow or failing on purpose."""
