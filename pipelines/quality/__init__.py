"""Data quality of the night: Great Expectations in its worker, the nightly report and the run summary."""
