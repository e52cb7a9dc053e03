"""Spend governance: proposals, policy, approvals, PSBTs."""
