"""Photos and attachments over HTTP: ``HEAD`` by SHA-256, resumable uploads (tus 1.0 core), reading.

* ``HEAD /api/media/<sha256>``: may I read this file (is it stored for me)? 404 for a file the caller may
  not read, as for one that is not there: a hash is not a permission
* ``GET /api/media/<sha256>`` (the original), ``…/thumb``, ``…/public`` (stripped of metadata), under a
  neutral name (``<first 16 hex digits>.<extension of the type found in the file>``)
* ``POST /api/uploads`` (JSON or tus headers; the body may carry the first bytes),
  ``HEAD``/``PATCH``/``DELETE /api/uploads/<id>``

The protocol is in docs/sync.md ("Photos and attachments"); the rules are in services.py (re-exported from
uploads.py, references.py, upkeep.py).
"""
from __future__ import annotations

import base64
import binascii

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView
from marshmallow import ValidationError
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from backend import get_session
from backend.api import blueprint, body_limit
from backend.auth.access import ANY_USER, current_actor, requires
from backend.db import dialect_of, is_write_session
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.media import checks, services
from backend.media.sending import send_stored_file
from schemas.media import UploadIn, UploadOut

blp = blueprint("media", __name__, "/api", "照片与附件：按 SHA-256 查询、可续传上传（tus 1.0）、读取原件/缩略图/公开副本")

UPLOADERS = tuple(services.UPLOAD_KINDS)        # officers (services.may_upload: with an inspection still open)
OFFSET_STREAM = "application/offset+octet-stream"
TUS_HEADERS = {"Tus-Resumable": "1.0.0", "Cache-Control": "no-store"}
IMMUTABLE = "private, max-age=31536000, immutable"
CHUNK_LIMIT = "MAX_CONTENT_LENGTH"        # one request of an upload (a chunk); files of any kind go in several
CHUNK_MESSAGE = "一次上传请求最多 {limit}，请分段上传（PATCH）"

_TUS_DOC = {
    "parameters": [
        {"in": "header", "name": "Upload-Length", "schema": {"type": "integer"},
         "description": "（tus 方式）文件长度；与 Upload-Metadata 一起代替 JSON 请求体"},
        {"in": "header", "name": "Upload-Metadata", "schema": {"type": "string"},
         "description": "（tus 方式）逗号分隔的“键 Base64值”：sha256（必填，十六进制）、filetype（必填）、filename、kind"},
    ],
    "requestBody": {"description": "JSON 声明；或 tus 请求头声明，请求体为空或为文件开头的字节（creation-with-upload）",
                    "content": {"application/json": {"schema": UploadIn},
                                OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}}},
}


def _settings() -> services.MediaSettings:
    return services.app_settings()


def _queue():
    return current_app.extensions["shuangsui.jobs"]


class _Body:
    """The request body; a cut connection reads as its end (the bytes that arrived are kept)."""

    def __init__(self, stream):
        self.stream = stream

    def read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except (ClientDisconnected, OSError):
            return b""


def _bare(status: int, **headers: str) -> Response:
    """A response with headers only (tus answers of HEAD, PATCH and DELETE)."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    response.headers.update(TUS_HEADERS)
    response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return response


_UPLOAD_OUT = UploadOut()


def _state_response(state: services.UploadState, status: int) -> Response:
    response = jsonify(_UPLOAD_OUT.dump(state))
    response.status_code = status
    response.headers.update(TUS_HEADERS)
    response.headers["Upload-Offset"] = str(state.offset)
    response.headers["Upload-Length"] = str(state.length)
    if state.upload is not None:
        response.headers["Location"] = f"/api/uploads/{state.id}"
        response.headers["Upload-Expires"] = http_date(state.expires_at)
    if state.media is not None:
        response.headers["Content-Location"] = f"/api/media/{state.media.sha256}"
    return response


def _metadata(header: str) -> dict:
    """tus Upload-Metadata: ``key base64value,key2 base64value2``."""
    out = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidInput(f"Upload-Metadata 中 {key[:40]} 的值不是有效的 Base64 UTF-8 文本",
                               code="upload.bad_metadata") from None
        if "\x00" in out[key]:
            raise InvalidInput("Upload-Metadata 含有空字符", code="upload.bad_metadata")
    return out


def _declaration() -> dict:
    """The declared file: a JSON body, or the tus headers Upload-Length and Upload-Metadata."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidInput("请求体应为 JSON 对象", code="validation_error")
        try:
            return UploadIn().load(data)
        except ValidationError as err:
            field, messages = next(iter(err.messages.items()))
            first = messages[0] if isinstance(messages, list) else messages
            raise InvalidInput(f"提交的数据有误：{field}：{first}", errors={"json": err.messages}) from None
    if request.headers.get("Upload-Defer-Length"):
        raise InvalidInput("不支持延后声明文件长度（Upload-Defer-Length），请给出 Upload-Length", code="upload.bad_length")
    length_text = request.headers.get("Upload-Length", "").strip()
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    if not (length_text.isdigit() and len(length_text) <= 16):
        raise InvalidInput("缺少 Upload-Length 请求头，或其值不是非负整数", code="upload.bad_length")
    media_type = meta.get("filetype") or meta.get("media_type") or meta.get("content_type")
    if not meta.get("sha256") or not media_type:
        raise InvalidInput("Upload-Metadata 须给出 sha256 与 filetype（或以 JSON 声明文件）", code="upload.bad_metadata")
    return {"sha256": meta["sha256"], "length": int(length_text), "media_type": media_type,
            "filename": meta.get("filename"), "kind": meta.get("kind") or None}


def _offset_header() -> int:
    text = request.headers.get("Upload-Offset", "").strip()
    if not (text.isdigit() and len(text) <= 16):
        raise DomainError("缺少 Upload-Offset 请求头，或其值不是非负整数", code="upload.bad_offset", status=400)
    return int(text)


@blp.route("/uploads")
class Uploads(MethodView):
    @requires(*UPLOADERS)
    @body_limit(CHUNK_LIMIT, message=CHUNK_MESSAGE)
    @blp.doc(**_TUS_DOC)
    @blp.response(201, UploadOut, description="上传会话已建立（Location 为会话地址，Upload-Offset 为已收字节）；"
                                              "请求体带有全部字节时文件已存储（complete=true）")
    @blp.alt_response(200, schema=UploadOut, description="同样内容的文件已存储，无需上传（complete=true）")
    @blp.alt_response(403, description="forbidden.role、forbidden.not_inspector、upload.no_inspection：不能上传")
    @blp.alt_response(413, description="media.too_large：声明的长度超过该类文件的上限；too_large：一次请求超过 MAX_CONTENT_LENGTH")
    @blp.alt_response(415, description="media.type_not_allowed：不接受的文件类型")
    @blp.alt_response(422, description="upload.bad_hash、upload.bad_length、upload.bad_metadata、media.bad_kind、"
                                       "validation_error：声明有误；upload.hash_mismatch、media.*：随请求体送来的整个文件未通过检查")
    @blp.alt_response(429, description="upload.too_many、upload.reserved_full、upload.unreferenced_full：每人上限（Retry-After）")
    def post(self):
        """开始一次上传（文件已存储时直接返回其信息）"""
        session, settings, actor = get_session(), _settings(), current_actor()
        declared = _declaration()
        if (request.mimetype == OFFSET_STREAM and request.content_length == declared["length"]
                and declared["length"] <= services.WHOLE_MAX_BYTES):  # a photo in one request: no session
            state = services.store_whole(session, settings, actor, stream=_Body(request.stream), queue=_queue(),
                                         **declared)
            return _state_response(state, 200 if state.deduplicated else 201)
        state = services.create_upload(session, settings, actor, **declared)
        if state.complete:
            return _state_response(state, 200)
        if request.mimetype == OFFSET_STREAM and state.offset == 0 and (request.content_length or 0) > 0:
            try:  # creation-with-upload: the body holds the first bytes (a photo: all of them)
                state = services.append(session, settings, actor, state.id, offset=0, stream=_Body(request.stream),
                                        content_length=request.content_length, queue=_queue())
            except Conflict:  # another request is writing this session: the client HEADs and resumes
                state = services.upload_state(session, settings, actor, state.id)
        return _state_response(state, 201)


@blp.route("/uploads/<string:upload_id>")
class UploadDetail(MethodView):
    @requires(*UPLOADERS)
    @blp.doc(responses={"200": {"description": "Upload-Offset：服务器已收到的字节数；Upload-Length：文件长度"},
                        "404": {"description": "upload.not_found：没有该上传会话（或已结束、属于他人）；错误代码见 X-Error-Code"},
                        "410": {"description": "upload.expired：上传会话已过期"}})
    def head(self, upload_id):
        """查询上传进度（断线后据此续传）"""
        state = services.upload_state(get_session(), _settings(), current_actor(), upload_id)
        return _bare(200, Upload_Offset=str(state.offset), Upload_Length=str(state.length),
                     Upload_Expires=http_date(state.expires_at))

    @requires(*UPLOADERS)
    @body_limit(CHUNK_LIMIT, message=CHUNK_MESSAGE)
    @blp.doc(parameters=[{"in": "header", "name": "Upload-Offset", "required": True, "schema": {"type": "integer"},
                          "description": "本段字节在文件中的起始位置，须等于服务器的 Upload-Offset"}],
             requestBody={"content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}}},
             responses={"204": {"description": "已追加；Upload-Offset 为新的位置"},
                        "400": {"description": "upload.bad_offset：缺少 Upload-Offset；upload.incomplete_chunk：请求体不完整"
                                               "（已收到的字节保留，details.offset）"},
                        "404": {"description": "upload.not_found：没有该上传会话（或已结束、属于他人）"},
                        "409": {"description": "upload.offset_mismatch：位置不一致（先 HEAD 再续传）；upload.locked"},
                        "410": {"description": "upload.expired：上传会话已过期，重新声明"},
                        "413": {"description": "too_large：一次请求超过 MAX_CONTENT_LENGTH，请分段"},
                        "415": {"description": "upload.bad_content_type：Content-Type 须为 application/offset+octet-stream"},
                        "422": {"description": "upload.beyond_length：超出声明的长度；upload.hash_mismatch、media.*：文件未通过检查"}})
    @blp.response(200, UploadOut, description="最后一段：文件已校验并存储（complete=true）")
    def patch(self, upload_id):
        """追加一段字节（Content-Type: application/offset+octet-stream）"""
        if request.mimetype != OFFSET_STREAM:
            raise DomainError(f"PATCH 的 Content-Type 必须是 {OFFSET_STREAM}", code="upload.bad_content_type", status=415)
        offset = _offset_header()
        state = services.append(get_session(), _settings(), current_actor(), upload_id, offset=offset,
                                stream=_Body(request.stream), content_length=request.content_length, queue=_queue())
        if state.complete:
            return _state_response(state, 200)
        return _bare(204, Upload_Offset=str(state.offset), Upload_Expires=http_date(state.expires_at))

    @requires(*UPLOADERS)
    @blp.response(204, description="已取消，已收到的字节已删除")
    def delete(self, upload_id):
        """取消上传"""
        services.abort_upload(get_session(), _settings(), current_actor(), upload_id)
        return _bare(204)


def send_stored(sha256: str, media_type: str) -> Response:
    """The stored bytes, under a neutral name made of the hash and the extension of the type the checks
    found in the file: never the name a client gave (``invoice.html``), never a type it declared alone."""
    try:
        response = send_stored_file(_settings().store, sha256, mimetype=media_type, conditional=True, etag=sha256,
                                    download_name=f"{sha256[:16]}.{checks.extension_of(media_type)}", max_age=None)
    except FileNotFoundError:
        raise NotFound("文件内容缺失，请联系管理员", code="media.file_missing") from None
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/media/<string:sha256>")
class MediaFile(MethodView):
    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "服务器已有该文件且本人可以读取：Content-Length、Content-Type、ETag，"
                                               "X-Media-Status（processing/ready/failed）、X-Media-Kind"},
                        "404": {"description": "media.not_found：没有该文件，或本人无权读取：需要上传"}})
    def head(self, sha256):
        """按 SHA-256 查询本人能否读取该文件（上传前先查；无权查看的文件与不存在的一样答 404）"""
        media = services.head(get_session(), current_actor(), sha256)
        response = Response(status=200)
        response.headers["Content-Type"] = media.media_type
        response.headers["Content-Length"] = str(media.size)
        response.headers["ETag"] = f'"{media.sha256}"'
        response.headers["X-Media-Status"] = media.status
        response.headers["X-Media-Kind"] = media.kind
        response.headers["Cache-Control"] = "no-cache"
        return response

    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "原件（未经任何改动的证据文件）",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}})
    def get(self, sha256):
        """下载原件（上传人、系统管理员、监督人员、在可查看的检查记录中看得到它的人员；其他人 404）"""
        media = services.readable(get_session(), current_actor(), sha256)
        return send_stored(media.sha256, media.media_type)


def _writer():
    """The request's session made a write session (a GET about to write): on SQLite it takes the write lock
    up front, so two requests making a photo's copies at once queue instead of both making them."""
    session = get_session()
    if dialect_of(session) == "sqlite" and not is_write_session(session):
        discarded = g.pop("db_session")
        discarded.rollback()
        discarded.close()
        g.db_write = True
        session = get_session()
    return session


def _derived(sha256: str, which: str) -> Response:
    media = services.readable(get_session(), current_actor(), sha256)
    if services.on_first_need(media.kind, media.status, media.thumb_sha256):   # made now, by the first to ask
        sha256 = media.sha256
        session = _writer()
        media = services.derived(session, _settings(), sha256)
        session.commit()
        if media is None:   # cleaned up meanwhile
            raise services.Unreadable()
    derived = media.thumb_sha256 if which == "thumb" else media.public_sha256
    if derived is None:
        if media.status == "processing":
            raise Conflict("照片仍在处理中，请稍后再取", code="media.processing")
        raise NotFound("该文件没有缩略图或公开副本（仅照片有）", code="media.no_derived")
    return send_stored(derived, "image/jpeg")


@blp.route("/media/<string:sha256>/thumb")
class MediaThumb(MethodView):
    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "JPEG 缩略图", "content": {"image/jpeg": {}}}})
    def get(self, sha256):
        """照片缩略图（已按 EXIF 方向摆正，无元数据）"""
        return _derived(sha256, "thumb")


@blp.route("/media/<string:sha256>/public")
class MediaPublic(MethodView):
    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "JPEG，无 EXIF/ICC/XMP", "content": {"image/jpeg": {}}}})
    def get(self, sha256):
        """供公示的照片副本（已摆正，去除全部元数据）"""
        return _derived(sha256, "public")
