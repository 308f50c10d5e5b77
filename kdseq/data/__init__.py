"""Reading, checking and extracting parallel corpora."""
