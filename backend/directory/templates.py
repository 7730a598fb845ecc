"""Import templates of the lists: the header row and an example row (CSV), or in XLSX also text-typed
cells, drop-downs for the columns with a few choices and a 填写说明 sheet, all from the specs.

No Flask here.
"""
from __future__ import annotations

import io
from typing import BinaryIO

from backend.directory.specs import ListSpec
from backend.directory.writers import HEADER_FILL, style_header, write_csv


GENERAL_NOTES = (
    "第 1 行为表头，请勿修改列名；列的顺序可以调整，不需要的非必填列可以删除。",
    "红色表头为必填列。示例行（第 2 行）仅供参考，导入前请删除或改为实际数据。",
    "整个文件全部校验通过才会导入；有任何一行出错，系统列出出错的行号和原因，不导入任何数据。",
    "已存在的记录（按编码识别）会被更新：文件中有的列以文件为准，文件中没有的列保持不变。",
    "用 Excel 编辑 CSV 时，长数字代码可能被改成科学计数法，建议使用 XLSX 模板；CSV 请保存为 UTF-8 或 GBK 编码。",
)


def template_bytes(spec: ListSpec, fmt: str) -> bytes:
    out = io.BytesIO()
    example = [c.example for c in spec.columns]
    if fmt == "csv":
        write_csv(out, spec.headers, [example])
        return out.getvalue()
    _template_xlsx(out, spec, example)
    return out.getvalue()


def _template_xlsx(out: BinaryIO, spec: ListSpec, example: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = spec.title[:31]
    for i, col in enumerate(spec.columns, start=1):
        style_header(ws.cell(row=1, column=i, value=col.header), col.required)
        ex = ws.cell(row=2, column=i, value=col.example or None)
        ex.data_type = "s" if col.example else ex.data_type
        ex.number_format = "@"
        ex.font = Font(color="808080", italic=True)
        ex.alignment = Alignment(wrap_text=True, vertical="top")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = col.width
        # cells typed as text so Excel keeps long codes (USCC, 注册号) as they are
        for row in range(3, 202):
            ws.cell(row=row, column=i).number_format = "@"
        if col.choices and not col.multi and len(",".join(col.choices)) < 250:
            dv = DataValidation(type="list", formula1='"' + ",".join(col.choices) + '"', allow_blank=True,
                                showErrorMessage=False)
            dv.add(f"{letter}2:{letter}10001")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 70
    notes.column_dimensions["D"].width = 30
    notes.column_dimensions["E"].width = 40
    notes.append([f"{spec.title}导入说明"])
    notes["A1"].font = Font(bold=True, size=14)
    for n, line in enumerate(GENERAL_NOTES + spec.notes, start=1):
        notes.append([f"{n}. {line}"])
    notes.append([])
    notes.append(["列名", "是否必填", "填写说明", "示例", "可选值"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    for col in spec.columns:
        also = f"（也可写作：{'、'.join(col.aliases)}）" if col.aliases else ""
        notes.append([col.header, "必填" if col.required else "选填", (col.note or "") + also, col.example,
                      "、".join(col.choices)])
        for cell in notes[notes.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    wb.save(out)

