"""Opening a warehouse brings its raw tables up to the columns the sources declare."""

import duckdb

from kirz.warehouse import RAW_COLUMNS, open_warehouse


def test_an_older_warehouse_gains_the_declared_columns_it_lacks(tmp_path):
    path = tmp_path / "old.duckdb"
    with open_warehouse(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("alter table raw.slurm_jobs drop column gpu_util_ave_pct")
    con.execute("insert into raw.slurm_jobs (ingest_id, source_file, file_sha256, line_no, received_at, job_id) "
                "values (1, 'sacct.txt', 'x', 2, now(), '42')")
    con.close()
    with open_warehouse(path) as con:
        cols = [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = 'slurm_jobs' "
            "order by column_index").fetchall()]
        assert "gpu_util_ave_pct" in cols
        assert con.execute("select job_id, gpu_util_ave_pct from raw.slurm_jobs").fetchall() == [("42", None)]
        for table, declared in RAW_COLUMNS.items():
            have = {c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = ?",
                [table]).fetchall()}
            assert {c for c, _ in declared} <= have, table
    # opening again changes nothing
    with open_warehouse(path) as con:
        assert con.execute("select count(*) from raw.slurm_jobs").fetchall() == [(1,)]
