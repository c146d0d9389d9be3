"""Audit: the indexer of contract events, the auditor's queries, exports and integrity check."""
