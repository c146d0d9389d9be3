"""Accounts, sign-in (password and Sign-In with Ethereum), JWT sessions, roles and wallets."""
