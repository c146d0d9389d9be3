"""The credit market: signed orders, matching, on-chain settlement and the trading ledger."""
