"""`boveda sync --follow`: a running node followed block by block, alerts when coins move without authority.

The loop (`loop.py`) wakes on the node's notifications, syncs each new block through the same
`wallets.sync.sync`, reconciles the holdings the block touched (`alerts.py`), watches the
mempool for unconfirmed spends of watched coins (`mempool.py`) and delivers every new alert to
webhooks (`webhook.py`). The alerts live in the book's database, in tables of their own.
"""
