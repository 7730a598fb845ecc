"""The push's write statement names the rows it locks and writes by ids, each its own parameter
(``batch._ids_in``): an ``IN`` whose generic plan is an index lookup, whatever the table's size."""
from backend.db import psycopg_sql
from backend.inspections.batch import _ids_in


def test_each_id_is_a_parameter_of_its_own():
    params = {"now": 1}
    assert _ids_in("t", [7, 3, 9], params) == ":t0, :t1, :t2"
    assert params == {"now": 1, "t0": 7, "t1": 3, "t2": 9}
    assert psycopg_sql(f"SELECT 1 FROM inspection WHERE id IN ({_ids_in('t', [7, 3], {})})") == \
        "SELECT 1 FROM inspection WHERE id IN (%(t0)s, %(t1)s)"


def test_no_ids_match_no_row():
    params = {}
    assert _ids_in("a", [], params) == "NULL"       # ``id IN (NULL)``: valid, and true of no row
    assert params == {}


def test_prefixes_keep_the_lists_apart():
    params = {}
    _ids_in("t", [1], params)
    _ids_in("u", [2], params)
    assert params == {"t0": 1, "u0": 2}
