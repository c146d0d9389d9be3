"""Earning: verified low-carbon purchases and trips become claims, claims become credits."""
