"""QR codes as PNG or SVG (``qrcode``)."""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.image.svg
from fastapi import Response

QrFormat = Literal["png", "svg"]


def qr_response(data: str, fmt: QrFormat) -> Response:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    buffer = io.BytesIO()
    if fmt == "svg":
        qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        return Response(buffer.getvalue(), media_type="image/svg+xml")
    qr.make_image().save(buffer)
    return Response(buffer.getvalue(), media_type="image/png")
