# The wallet's admin pages are registered by payments/admin_money.py: which buyers a GOM may grant
# credit to depends on their group orders, which the wallet (left of payments) must not import.
