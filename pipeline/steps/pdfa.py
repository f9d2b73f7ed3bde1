"""PDF/A plumbing: the e-copy's (PDF/A-3b: images, output intent, XMP, Info, attachments,
saving) and the printed books' (PDF/A-2b, `archival`).

Kept apart from `pipeline.steps.assemble` so the page drawing stays readable and so the archive
rules
(ISO 19005-3 level B) live in one place. Everything here edits an open `pikepdf.Pdf` in memory;
nothing is validated here (tests run pikepdf's own PDF/A checker when it is installed).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pikepdf
from pikepdf import Array, Dictionary, Name, String
from pikepdf.models.metadata import encode_pdf_date
from PIL import Image, ImageCms

PRODUCER = "ecopy"
PDF_VERSION = "1.7"


@lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """The sRGB profile from LittleCMS (via Pillow): no ICC file has to ship with ecopy."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def add_output_intent(pdf: pikepdf.Pdf) -> None:
    """GTS_PDFA1 intent with sRGB: scans are DeviceRGB/DeviceGray, which PDF/A allows only so."""
    icc = pdf.make_stream(srgb_icc(), N=3)
    intent = Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=String("sRGB IEC61966-2.1"),
        Info=String("sRGB IEC61966-2.1"),
        RegistryName=String("http://www.color.org"),
        DestOutputProfile=icc,
    )
    pdf.Root.OutputIntents = Array([pdf.make_indirect(intent)])


def attach_file(
    pdf: pikepdf.Pdf, name: str, data: bytes, *, mime_type: str, description: str, when: datetime
) -> None:
    """Embed `data` as an associated file (PDF/A-3 allows any type if /AF and /AFRelationship).

    It goes both into /Names /EmbeddedFiles (so viewers list it and pikepdf reads it back) and
    into the catalog /AF array, which PDF/A-3 requires for every embedded file.
    """
    pdf_date = encode_pdf_date(when)
    spec = pikepdf.AttachedFileSpec(
        pdf,
        data,
        description=description,
        filename=name,
        mime_type=mime_type,
        creation_date=pdf_date,
        mod_date=pdf_date,
        relationship=Name.Data,
    )
    pdf.attachments[name] = spec
    spec_obj = pdf.attachments[name].obj
    # Not every qpdf version fills /Params fully; PDF/A-3 wants /ModDate, and /Size is cheap.
    stream = spec_obj.EF.F
    params = stream.get("/Params", Dictionary())
    params.Size = len(data)
    params.ModDate = String(pdf_date)
    params.CheckSum = String(hashlib.md5(data).digest())  # ISO 32000 asks for MD5 here
    stream.Params = params
    spec_obj.UF = String(name)
    spec_obj.F = String(name)
    spec_obj.Desc = String(description)
    spec_obj.AFRelationship = Name.Data
    af = pdf.Root.get("/AF", Array())
    if all(item.objgen != spec_obj.objgen for item in af):  # newer pikepdf adds it itself
        af.append(spec_obj)
    pdf.Root.AF = af


def set_metadata(pdf: pikepdf.Pdf, *, title: str, lang: str, when: datetime,
                 part: str = "3") -> None:
    """Info dictionary and XMP packet that say the same thing, plus the pdfaid claim.

    PDF/A requires the two to agree, so the Info dictionary is rebuilt from scratch (dropping
    whatever the drawing library wrote) and the XMP is written with the same values.
    """
    pdf_date = encode_pdf_date(when)
    pdf.trailer.Info = pdf.make_indirect(
        Dictionary(
            Title=String(title),
            Producer=String(PRODUCER),
            Creator=String(PRODUCER),
            CreationDate=String(pdf_date),
            ModDate=String(pdf_date),
        )
    )
    iso = when.isoformat()
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = title
        meta["pdf:Producer"] = PRODUCER
        meta["xmp:CreatorTool"] = PRODUCER
        meta["xmp:CreateDate"] = iso
        meta["xmp:ModifyDate"] = iso
        meta["xmp:MetadataDate"] = iso
        meta["pdfaid:part"] = part
        meta["pdfaid:conformance"] = "B"
    pdf.Root.Lang = String(lang)


def drop_empty_page_keys(pdf: pikepdf.Pdf) -> None:
    """reportlab writes an empty /Trans and /Rotate 0 on every page: they say nothing."""
    for page in pdf.pages:
        for key in ("/Trans", "/Rotate"):
            if key in page.obj:
                del page.obj[key]


def archival(data: bytes, *, title: str, lang: str, when: datetime, part: str) -> bytes:
    """A PDF drawn with embedded fonts and no transparency (reportlab here) made PDF/A level
    B of ISO 19005-``part``: the sRGB output intent, Info and XMP that agree, the language."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        drop_empty_page_keys(pdf)
        add_output_intent(pdf)
        set_metadata(pdf, title=title, lang=lang, when=when, part=part)
        out = io.BytesIO()
        _write(pdf, out)
    return out.getvalue()


def save(pdf: pikepdf.Pdf, out_path: Path) -> None:
    """Write PDF 1.7, unencrypted, with a fresh trailer /ID and no object streams.

    Classic xref tables keep the file easy for every later tool (pyHanko appends its
    incremental updates either way); PDF/A-3 would allow object streams but gains little here.
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".part")  # never leave half a file behind
    _write(pdf, partial)
    partial.replace(out_path)


def _write(pdf: pikepdf.Pdf, target: Path | io.BytesIO) -> None:
    """PDF 1.7, unencrypted, a fresh trailer /ID, classic xref tables (see `save`)."""
    pdf.save(target, force_version=PDF_VERSION,
             object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=True,
             static_id=False, encryption=False)


# --- image data ---------------------------------------------------------------------------


def image_xobject(
    pdf: pikepdf.Pdf, path: Path, image_format: str, expected_size: tuple[int, int]
) -> pikepdf.Stream:
    """Image XObject for a scan: JPEG bytes as they are, PNG samples losslessly deflated.

    No SMask (PDF/A-friendly, nothing transparent) and no DeviceCMYK (not allowed beside an
    sRGB output intent). `expected_size` guards against a PageScan that lies about the file.
    """
    if image_format == "jpeg":
        data, width, height, space = _jpeg_data(path)
        bits, filt = 8, Name.DCTDecode
    elif image_format == "png":
        raw, width, height, space, bits = _png_data(path)
        data, filt = zlib.compress(raw, 6), Name.FlateDecode
        del raw
    else:
        raise ValueError(f"{path}: unsupported image format {image_format!r}")
    if (width, height) != expected_size:
        raise ValueError(
            f"{path}: image is {width}x{height} px, PageScan says "
            f"{expected_size[0]}x{expected_size[1]}"
        )
    return pdf.make_stream(
        data,
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=width,
        Height=height,
        ColorSpace=space,
        BitsPerComponent=bits,
        Filter=filt,
    )


def _jpeg_data(path: Path) -> tuple[bytes, int, int, Name]:
    """The file's own bytes (Pillow reads only the header); CMYK is the one re-encode."""
    with Image.open(path) as im:
        if im.format != "JPEG":
            raise ValueError(f"{path}: expected a JPEG, found {im.format}")
        width, height = im.size
        if im.mode == "L":
            return path.read_bytes(), width, height, Name.DeviceGray
        if im.mode == "RGB":
            return path.read_bytes(), width, height, Name.DeviceRGB
        if im.mode == "CMYK":  # PDF/A with an sRGB intent forbids DeviceCMYK
            out = io.BytesIO()
            im.convert("RGB").save(out, format="JPEG", quality=92)
            return out.getvalue(), width, height, Name.DeviceRGB
        raise ValueError(f"{path}: unsupported JPEG mode {im.mode}")


def _png_data(path: Path) -> tuple[bytes, int, int, Name, int]:
    """Decoded samples for FlateDecode: bilevel and grey stay so, alpha is laid on white."""
    with Image.open(path) as im:
        width, height = im.size
        if im.mode == "1":
            return im.tobytes(), width, height, Name.DeviceGray, 1
        if im.mode == "L":
            return im.tobytes(), width, height, Name.DeviceGray, 8
        if im.mode.startswith("I"):  # 16-bit grey PNG: keep all 16 bits, big-endian
            samples = np.asarray(im).astype(">u2")
            return samples.tobytes(), width, height, Name.DeviceGray, 16
        if im.mode in ("LA", "La"):
            flat = Image.new("L", im.size, 255)
            flat.paste(im.convert("L"), mask=im.getchannel("A"))
            return flat.tobytes(), width, height, Name.DeviceGray, 8
        if im.mode in ("RGBA", "RGBa", "PA") or "transparency" in im.info:
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
            return flat.tobytes(), width, height, Name.DeviceRGB, 8
        return im.convert("RGB").tobytes(), width, height, Name.DeviceRGB, 8
