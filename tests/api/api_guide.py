"""Run the examples of docs/api.md against the app (tests/api/test_api_guide.py).

The format (also explained at the top of docs/api.md):

* A request is a fenced block with the info string ``http``: the request line
  ``METHOD /path?query``, header lines ``Name: value``, a blank line, then the body:
  JSON, or for ``Content-Type: multipart/form-data`` one ``field=value`` or
  ``field=@file-name`` per line.
* The answer follows it at once (blank lines only in between): a fenced block ``json``
  (or ``text`` for a file download). Its first line is ``// <status>``, optionally a
  word or two, and ``→ <name>`` to keep the answer for later examples, e.g.
  ``// 201 Created → plan``. For ``text``, the status is followed by the content type
  (``// 200 text/csv``) and the following lines, if any, are how the body starts.
* ``{{name.path}}`` anywhere in a request is replaced by a value of a kept answer, e.g.
  ``{{plan.id}}``, ``{{groups.items[0].leader_id}}``, ``{{planner.access_token}}``.
* A fenced block whose info string is a language and a file name (````csv targets.csv````)
  defines a file for ``field=@targets.csv``.

What an answer block promises (``shape_problems``): every key it shows is in the answer,
with a value of the same JSON type (null, boolean, number, string, array, object), and an
object has no other keys unless it shows ``"…": "…"``; the string ``"…"`` stands for any
value. A key in angle brackets makes the object a map: ``{"<stratum>": 3}`` says every
key (other than those shown by name) has a number. An array shown empty must be empty; otherwise every element of the answer is
checked against the shown element at the same position, or the last one shown. An error
answer (status ≥ 400) must have the ``code`` shown.
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
from typing import Any

FENCE = re.compile(r"^```(.*)$")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*|\[\d+\])*)\s*\}\}")
STATUS_LINE = re.compile(r"^//\s*(\d{3})\b(?P<rest>[^→]*)(?:→\s*(?P<name>[A-Za-z_]\w*))?\s*$")
REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) (/\S*)$")
MENTION = re.compile(r"\b(GET|POST|PATCH|PUT|DELETE|HEAD)[ \t]+(/api/[^\s`|)，,；;]+)")
NOT_API = ("/api/openapi.json", "/api/docs")  # the contract and its browser, not endpoints
ANY = "…"


class GuideError(Exception):
    """docs/api.md has an example the harness cannot read."""


@dataclasses.dataclass
class Block:
    line: int                  # 1-based line of the opening fence
    info: str
    lines: list[str]
    end: int                   # 1-based line of the closing fence


@dataclasses.dataclass
class Example:
    line: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: list[str]            # raw body lines
    status: int
    kind: str                  # "json" or "text"
    expected: Any              # parsed JSON, or the text lines after the status line
    content_type: str | None   # text answers
    save_as: str | None

    @property
    def title(self) -> str:
        return f"docs/api.md:{self.line} {self.method} {self.target}"


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, info = i, m.group(1).strip()
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise GuideError(f"docs/api.md:{start + 1}: 代码块没有结束的 ```")
        out.append(Block(start + 1, info, body, i + 1))
        i += 1
    return out


def parse(text: str) -> tuple[list[Example], dict[str, bytes]]:
    """The examples in order, and the files defined for uploads."""
    all_blocks = blocks(text)
    lines = text.splitlines()
    examples: list[Example] = []
    files: dict[str, bytes] = {}
    skip = set()
    for n, b in enumerate(all_blocks):
        if n in skip:
            continue
        words = b.info.split()
        if len(words) == 2 and words[0] != "http":
            files[words[1]] = ("\n".join(b.lines) + "\n").encode("utf-8")
            continue
        if words[:1] != ["http"]:
            continue
        if len(words) != 1:
            raise GuideError(f"docs/api.md:{b.line}: ```http 之后不应有其他文字：{b.info!r}")
        answer = all_blocks[n + 1] if n + 1 < len(all_blocks) else None
        if answer is None or any(x.strip() for x in lines[b.end:answer.line - 1]):
            raise GuideError(f"docs/api.md:{b.line}: 请求之后应紧跟 ```json 或 ```text 的应答块")
        skip.add(n + 1)
        examples.append(_example(b, answer))
    return examples, files


def _example(request: Block, answer: Block) -> Example:
    where = f"docs/api.md:{request.line}"
    if not request.lines or not REQUEST_LINE.match(request.lines[0]):
        raise GuideError(f"{where}: 第一行应为“方法 路径”，如 GET /api/v1/items，实为 {request.lines[:1]!r}")
    method, target = REQUEST_LINE.match(request.lines[0]).groups()
    headers, body, i = [], [], 1
    while i < len(request.lines) and request.lines[i].strip():
        name, sep, value = request.lines[i].partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
            raise GuideError(f"{where}: 请求头格式应为“名称: 值”，实为 {request.lines[i]!r}")
        headers.append((name, value.strip()))
        i += 1
    body = [x for x in request.lines[i + 1:]]
    while body and not body[-1].strip():
        body.pop()
    kind = answer.info.split()[0] if answer.info else ""
    if kind not in ("json", "text") or len(answer.info.split()) != 1:
        raise GuideError(f"docs/api.md:{answer.line}: 应答块应为 ```json 或 ```text，实为 ```{answer.info}")
    m = STATUS_LINE.match(answer.lines[0]) if answer.lines else None
    if not m:
        raise GuideError(f"docs/api.md:{answer.line}: 应答块第一行应为“// 状态码 [说明] [→ 名称]”，"
                         f"实为 {answer.lines[:1]!r}")
    status, name = int(m.group(1)), m.group("name")
    content_type = None
    if kind == "json":
        try:
            expected = json.loads("\n".join(answer.lines[1:]))
        except ValueError as exc:
            raise GuideError(f"docs/api.md:{answer.line}: 应答不是有效的 JSON：{exc}") from None
    else:
        content_type = m.group("rest").strip() or None
        if content_type is None:
            raise GuideError(f"docs/api.md:{answer.line}: ```text 应答的状态码之后应写内容类型，如 // 200 text/csv")
        expected = answer.lines[1:]
    return Example(request.line, method, target, headers, body, status, kind, expected, content_type, name)


# --------------------------------------------------------------------------- values


def lookup(saved: dict[str, Any], path: str) -> Any:
    name, *rest = re.findall(r"[A-Za-z_]\w*|\[\d+\]", path)
    if name not in saved:
        raise KeyError(f"{{{{{path}}}}}：前面没有保存名为 {name} 的应答")
    value = saved[name]
    for step in rest:
        try:
            value = value[int(step[1:-1])] if step.startswith("[") else value[step]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{{{{{path}}}}}：应答 {name} 中没有 {step}") from None
    return value


def substitute(text: str, saved: dict[str, Any]) -> str:
    def one(m: re.Match) -> str:
        value = lookup(saved, m.group(1))
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return PLACEHOLDER.sub(one, text)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_problems(shown: Any, actual: Any, path: str = "") -> list[str]:
    """How ``actual`` differs from what the guide shows (see the module's docstring)."""
    where = path or "应答"
    if shown == ANY:
        return []
    if _kind(shown) != _kind(actual):
        return [f"{where}: 文档为 {_kind(shown)}，实际为 {_kind(actual)}（{json.dumps(actual, ensure_ascii=False)[:80]}）"]
    out: list[str] = []
    if isinstance(shown, dict):
        template = next((k for k in shown if k.startswith("<") and k.endswith(">")), None)
        for key, value in shown.items():
            if key == ANY or key == template:
                continue
            if key not in actual:
                out.append(f"{path}.{key}: 文档中有，实际应答没有" if path else f"{key}: 文档中有，实际应答没有")
            else:
                out += shape_problems(value, actual[key], f"{path}.{key}" if path else key)
        others = sorted(set(actual) - set(shown))
        if template is not None:  # a map: "<stratum>": 3 stands for every other key
            for key in others:
                out += shape_problems(shown[template], actual[key], f"{path}.{key}" if path else key)
        elif ANY not in shown and others:
            out.append(f"{where}: 实际应答多出文档未列的键 {others}（列出它们，或写 \"…\": \"…\" 表示省略）")
    elif isinstance(shown, list):
        if not shown and actual:
            out.append(f"{where}: 文档为空数组，实际有 {len(actual)} 项")
        elif shown and not actual:
            out.append(f"{where}: 文档列出了元素，实际为空数组")
        for i, value in enumerate(actual if shown else ()):
            out += shape_problems(shown[min(i, len(shown) - 1)], value, f"{path}[{i}]")
    return out


# --------------------------------------------------------------------------- running


@dataclasses.dataclass
class Outcome:
    example: Example
    status: int | None = None
    answer: Any = None
    problems: list[str] = dataclasses.field(default_factory=list)


def run(client, examples: list[Example], files: dict[str, bytes]) -> list[Outcome]:
    """Send every example in order with a Flask test client; never stops at a failure."""
    saved: dict[str, Any] = {}
    outcomes = []
    for ex in examples:
        outcome = Outcome(ex)
        outcomes.append(outcome)
        try:
            kwargs = _request(ex, saved, files)
        except (KeyError, GuideError, ValueError) as exc:
            outcome.problems.append(str(exc.args[0] if exc.args else exc))
            continue
        response = client.open(**kwargs)
        outcome.status = response.status_code
        if response.status_code != ex.status:
            outcome.problems.append(f"状态码：文档为 {ex.status}，实际为 {response.status_code}："
                                    f"{response.get_data(as_text=True)[:300]}")
        if ex.kind == "json":
            try:
                outcome.answer = json.loads(response.get_data(as_text=True))
            except ValueError:
                outcome.problems.append(f"应答不是 JSON（{response.mimetype}）")
                continue
            outcome.problems += shape_problems(ex.expected, outcome.answer)
            if ex.status >= 400 and isinstance(ex.expected, dict) and "code" in ex.expected \
                    and isinstance(outcome.answer, dict) and outcome.answer.get("code") != ex.expected["code"]:
                outcome.problems.append(f"code：文档为 {ex.expected['code']}，实际为 {outcome.answer.get('code')}")
        else:
            if response.mimetype != ex.content_type.split(";")[0].strip():
                outcome.problems.append(f"内容类型：文档为 {ex.content_type}，实际为 {response.mimetype}")
            if ex.expected:
                body = response.get_data().decode("utf-8-sig", "replace").splitlines()
                if body[:len(ex.expected)] != ex.expected:
                    outcome.problems.append(f"开头：文档为 {ex.expected}，实际为 {body[:len(ex.expected)]}")
            outcome.answer = None
        if ex.save_as and outcome.answer is not None:
            saved[ex.save_as] = outcome.answer
    return outcomes


def _request(ex: Example, saved: dict[str, Any], files: dict[str, bytes]) -> dict:
    target = substitute(ex.target, saved)
    path, _, query = target.partition("?")
    headers = {name: substitute(value, saved) for name, value in ex.headers}
    kwargs: dict[str, Any] = {"method": ex.method, "path": path, "query_string": query, "headers": headers}
    if not ex.body:
        return kwargs
    content_type = headers.pop("Content-Type", "")
    if content_type.startswith("application/json"):
        text = substitute("\n".join(ex.body), saved)
        try:
            json.loads(text)
        except ValueError as exc:
            raise GuideError(f"请求体不是有效的 JSON：{exc}") from None
        kwargs.update(data=text.encode("utf-8"), content_type=content_type)
    elif content_type.startswith("multipart/form-data"):
        form: dict[str, Any] = {}
        for line in ex.body:
            field, sep, value = line.partition("=")
            if not sep:
                raise GuideError(f"表单行应为 名称=值 或 名称=@文件名，实为 {line!r}")
            value = substitute(value, saved)
            if value.startswith("@"):
                if value[1:] not in files:
                    raise GuideError(f"文档中没有定义文件 {value[1:]}（```csv {value[1:]}）")
                form[field] = (io.BytesIO(files[value[1:]]), value[1:])
            else:
                form[field] = value
        kwargs.update(data=form, content_type="multipart/form-data")
    else:
        raise GuideError(f"有请求体的示例须写 Content-Type: application/json 或 multipart/form-data，实为 {content_type!r}")
    return kwargs


# --------------------------------------------------------------------------- endpoints


def rule_pattern(rule: str) -> re.Pattern:
    """A Flask rule as a pattern over paths whose parameters are written <anything> or are real values."""
    parts = []
    for piece in re.split(r"(<[^>]+>)", rule):
        parts.append(r"[^/?#]+" if piece.startswith("<") else re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


def app_endpoints(app) -> list[tuple[str, str]]:
    """(METHOD, rule) of every API endpoint under /api/ (HEAD only where it is not GET's twin)."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and not rule.rule.startswith(NOT_API):
            for method in rule.methods - {"OPTIONS"} - ({"HEAD"} if "GET" in rule.methods else set()):
                out.add((method, rule.rule))
    return sorted(out)


def mentions(text: str) -> list[tuple[int, str, str]]:
    """(line, METHOD, path) of every endpoint the guide names, in prose, tables or examples."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for method, path in MENTION.findall(line):
            out.append((n, method, path.split("?")[0].rstrip(".:")))
    return out


def match_endpoint(endpoints: list[tuple[str, str]], method: str, path: str) -> tuple[str, str] | None:
    """The endpoint a request or a mention names; HEAD names GET's twin where there is no HEAD of its own."""
    path = PLACEHOLDER.sub("x", path)
    # a rule without variables first, as Werkzeug does (/followups/register.xlsx, not /followups/<id>)
    endpoints = sorted(endpoints, key=lambda e: "<" in e[1])
    for wanted in (method, "GET") if method == "HEAD" else (method,):
        for m, rule in endpoints:
            if m == wanted and rule_pattern(rule).match(path):
                return m, rule
    return None
