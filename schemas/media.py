"""Photos and attachments: the declaration of an upload, an upload's state, a stored file."""
from __future__ import annotations

from marshmallow import fields, validate

from backend.media.checks import ACCEPTED_TYPES
from schemas.base import BaseSchema

SHA256 = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="应为 64 位十六进制字符（SHA-256）")


class UploadIn(BaseSchema):
    """An upload declared in JSON (the tus headers Upload-Length and Upload-Metadata say the same)."""

    sha256 = fields.String(required=True, validate=SHA256, metadata={"description": "文件内容的 SHA-256（十六进制）"})
    length = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**53),
                            metadata={"description": "文件长度（字节）"})
    media_type = fields.String(required=True, validate=validate.Length(min=1, max=100),
                               metadata={"description": "文件类型：" + "、".join(ACCEPTED_TYPES)})
    filename = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255),
                             metadata={"description": "原文件名（仅记入审计日志；文件以 SHA-256 与检测到的类型命名提供）"})
    kind = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(["photo", "signature", "pdf", "audio", "video"]),
                         metadata={"description": "文件类别；签名图片须填 signature，其余可省略（按类型推定）"})


class MediaOut(BaseSchema):
    """A stored file as its uploader may know it: what the bytes are (never who else sent them, nor their name)."""

    sha256 = fields.String()
    kind = fields.String(metadata={"enum": ["photo", "signature", "pdf", "audio", "video"]})
    media_type = fields.String(metadata={"description": "检查文件内容得到的类型（读取时的 Content-Type）"})
    size = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": ["processing", "ready", "failed"],
                                     "description": "processing 处理中（缩略图等尚未生成）、ready 可用、failed 处理失败（原件仍保存）"})
    exif_gps = fields.Dict(allow_none=True, metadata={
        "description": "照片 EXIF 中的定位：{lat, lon, datum, source: exif, alt?, accuracy?, time?}"})
    exif_time = fields.DateTime(allow_none=True, metadata={"description": "拍摄时间（UTC）"})
    exif_offset = fields.String(allow_none=True, metadata={
        "description": "照片自带的时区偏移；为空表示照片未记录时区，按系统时区（北京时间）换算"})
    orientation_fixed = fields.Boolean()
    thumb_sha256 = fields.String(allow_none=True, metadata={
        "description": "缩略图的 SHA-256；尚未生成时为空（应用拍摄的照片在首次读取 …/thumb 或 …/public 时生成）"})
    public_sha256 = fields.String(allow_none=True, metadata={
        "description": "去除元数据的公开副本的 SHA-256；尚未生成时为空（同上）"})
    created_at = fields.DateTime()
    processed_at = fields.DateTime(allow_none=True)


class UploadOut(BaseSchema):
    id = fields.String(allow_none=True, metadata={"description": "上传会话 id；文件已存储时为空"})
    offset = fields.Integer(metadata={"description": "服务器已收到的字节数（同 Upload-Offset）"})
    length = fields.Integer()
    expires_at = fields.DateTime(allow_none=True)
    complete = fields.Boolean(metadata={"description": "true：文件已存储（media 给出其信息）"})
    media = fields.Nested(MediaOut, allow_none=True)
