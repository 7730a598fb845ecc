"""Helpers of the import/export tests: build CSV/XLSX files, upload them, read the job back."""
from __future__ import annotations

import csv
import io

import openpyxl


def csv_bytes(rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([["" if v is None else str(v) for v in row] for row in rows])
    return text.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], title: str = "Sheet1") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, headers, list_name: str, data: bytes, filename: str = "名录.csv", **form):
    body = {"file": (io.BytesIO(data), filename), **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                                     for k, v in form.items()}}
    return client.post(f"/api/v1/imports/{list_name}", data=body, headers=headers,
                       content_type="multipart/form-data")


def finished_job(client, headers, response) -> dict:
    """The job of a 202 answer, read back from the jobs endpoint (the test app runs jobs inline)."""
    assert response.status_code == 202, response.json
    job = client.get(f"/api/v1/jobs/{response.json['id']}", headers=headers)
    assert job.status_code == 200, job.json
    return job.json


def read_xlsx(data: bytes) -> list[list]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV exports carry a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
