"""The money core of the payments app: payments, allocations, fees, schedules, refunds, keys."""
