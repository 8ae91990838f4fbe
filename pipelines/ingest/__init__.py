"""Ingest (取込): each department's extract read under the contract (decoding, layouts, normalisation, pandera),
bad rows to quarantine, large files streamed in batches and snapshots loaded as a diff, into the restricted store;
`mimamori check` for the departments."""
