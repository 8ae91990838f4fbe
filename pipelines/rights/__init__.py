"""Residents' rights (rights.md): corrections (訂正), suspension of use (利用停止) and disclosure (開示)."""
