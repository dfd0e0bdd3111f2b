"""What a database holds, in numbers: rows per table and the sums of every money column.

Read straight from the database's catalogue (not from the models), so it describes a backup
taken by older code as faithfully as the current schema, and a table added by any app later is
counted without touching this module. Money columns are found by name: every ``*_minor`` column;
where the table has a ``currency`` column the sums are kept per currency (never one sum across
currencies), otherwise under ``"*"``.
"""

from typing import Any

Inventory = dict[str, dict[str, Any]]
NO_CURRENCY = "*"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_names(cursor: Any, vendor: str) -> list[str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    elif vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY 1"
        )
    else:
        raise ValueError(f"unsupported database vendor {vendor!r}")
    return [row[0] for row in cursor.fetchall()]


def column_names(cursor: Any, vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]
    cursor.execute(f"PRAGMA table_info({quote(table)})")
    return [row[1] for row in cursor.fetchall()]


def take_inventory(cursor: Any, vendor: str) -> Inventory:
    """Return ``{table: {"rows": n, "sums": {column: {currency: total}}}}`` for every table."""
    inventory: Inventory = {}
    for table in table_names(cursor, vendor):
        columns = column_names(cursor, vendor, table)
        money = [name for name in columns if name.endswith("_minor")]
        has_currency = "currency" in columns
        group = quote("currency") if has_currency else "NULL"
        selected = ", ".join(
            [group, "COUNT(*)"] + [f"COALESCE(SUM({quote(name)}), 0)" for name in money]
        )
        # Names come from the catalogue and are quoted: no user input reaches this statement.
        sql = f"SELECT {selected} FROM {quote(table)}"  # noqa: S608
        if has_currency:
            sql += f" GROUP BY {group}"
        cursor.execute(sql)
        rows = 0
        sums: dict[str, dict[str, int]] = {name: {} for name in money}
        for record in cursor.fetchall():
            currency = NO_CURRENCY if not has_currency else (record[0] or "")
            rows += int(record[1])
            for name, total in zip(money, record[2:], strict=True):
                sums[name][currency] = sums[name].get(currency, 0) + int(total)
        inventory[table] = {"rows": rows, "sums": sums}
    return inventory


def inventory_differences(expected: Inventory, actual: Inventory) -> list[str]:
    """Every way ``actual`` differs from ``expected``, one sentence each; empty when equal."""
    differences: list[str] = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            differences.append(f"table {table} is missing")
            continue
        if table not in expected:
            differences.append(f"table {table} is not in the manifest")
            continue
        want, got = expected[table], actual[table]
        if want["rows"] != got["rows"]:
            differences.append(f"{table}: {got['rows']} rows, expected {want['rows']}")
        for column in sorted(set(want["sums"]) | set(got["sums"])):
            want_sums = {k: v for k, v in want["sums"].get(column, {}).items() if v}
            got_sums = {k: v for k, v in got["sums"].get(column, {}).items() if v}
            if want_sums != got_sums:
                differences.append(f"{table}.{column}: sums {got_sums}, expected {want_sums}")
    return differences
