"""Retirement: a holder burns credits through the relayer; certificates and their checks."""
