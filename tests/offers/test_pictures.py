"""Pictures where people choose: an offer's optional picture (checked, resized, stripped of its
metadata by Pillow, cached a year), partner logos on cards and pages, a placeholder otherwise."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from marketplace.extensions import db
from offers import pictures
from offers.models import Offer

EN = {"Accept-Language": "en"}


def photo(width: int = 2400, height: int = 1600, *, fmt: str = "JPEG", gps: bool = True) -> bytes:
    """A photo as a camera writes it: with EXIF (a camera model and a GPS position)."""
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x0110] = "Camera X100"  # Model
    if gps:
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif)
    return out.getvalue()


@pytest.fixture
def offer(create_partner, create_offer):
    return create_offer(create_partner(name="Librairie Voltaire"))


@pytest.fixture
def owner_client(client, login, offer, app):
    with app.app_context():
        owner = db.session.get(Offer, offer.id).partner.members[0].user
    return login(client, owner)


def upload(client, offer, data: bytes, name: str = "photo.jpg"):
    return client.post(
        f"/offers/manage/{offer.id}/picture",
        data={"picture": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=EN,
    )


def stored_token(app, offer) -> str | None:
    with app.app_context():
        return db.session.get(Offer, offer.id).picture


def test_a_picture_is_resized_stripped_and_served_for_a_year(app, owner_client, offer):
    response = upload(owner_client, offer, photo())
    client = app.test_client()  # a visitor: signed-in answers are never cached

    assert response.status_code == 302
    token = stored_token(app, offer)
    assert token
    for width in pictures.WIDTHS:
        served = client.get(f"/offers/pictures/{token}-{width}.webp")
        assert served.status_code == 200
        assert served.mimetype == "image/webp"
        assert "max-age=31536000" in served.headers["Cache-Control"]
        assert "immutable" in served.headers["Cache-Control"]
        with Image.open(io.BytesIO(served.data)) as image:
            assert image.width == width
            assert image.height == width * 2 // 3
            assert not image.getexif()
            assert "exif" not in image.info
            assert "icc_profile" not in image.info
        served.close()


def test_the_card_and_the_page_show_it_responsively(app, client, owner_client, offer):
    upload(owner_client, offer, photo())
    token = stored_token(app, offer)

    for html in (
        client.get("/offers/", headers=EN).get_data(as_text=True),
        client.get(f"/offers/{offer.id}", headers=EN).get_data(as_text=True),
    ):
        small, large = f"/offers/pictures/{token}-480.webp", f"/offers/pictures/{token}-960.webp"
        assert f'srcset="{small} 480w, {large} 960w"' in html
        assert "sizes=" in html


def stored_files(app) -> set[str]:
    folder = Path(app.config["UPLOAD_FOLDER"]) / "offer-pictures"
    return {path.name for path in folder.glob("*.webp")} if folder.exists() else set()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"%PDF-1.7 not a picture", "photo.jpg"),
        (b"GIF89a" + b"\x00" * 100, "photo.gif"),
        (b"\x89PNG\r\n\x1a\n broken", "photo.png"),
    ],
)
def test_what_is_not_a_picture_is_refused(app, owner_client, offer, data, name):
    before = stored_files(app)
    response = upload(owner_client, offer, data, name)

    assert response.status_code == 302
    page = owner_client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert "Send the picture as a JPEG, PNG or WebP image" in page
    assert stored_token(app, offer) is None
    assert stored_files(app) == before


def test_a_picture_with_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(pictures, "MAX_PIXELS", 1000)
    with pytest.raises(pictures.InvalidPicture):
        pictures.render_widths(photo(100, 100, gps=False))


def test_a_png_with_transparency_keeps_it(app):
    image = Image.new("RGBA", (600, 300), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    rendered = pictures.render_widths(out.getvalue())
    with Image.open(io.BytesIO(rendered[480])) as small:
        assert small.mode == "RGBA"
        assert small.size == (480, 240)


def test_removing_the_picture_deletes_its_files(app, client, owner_client, offer):
    upload(owner_client, offer, photo())
    token = stored_token(app, offer)

    response = owner_client.post(
        f"/offers/manage/{offer.id}/picture", data={"remove": "1"}, headers=EN
    )

    assert response.status_code == 302
    assert stored_token(app, offer) is None
    assert client.get(f"/offers/pictures/{token}-960.webp").status_code == 404


def test_another_partners_offer_is_404(app, client, login, offer, create_partner):
    other = create_partner(name="Air Horizon")
    login(client, other.owner)

    response = upload(client, offer, photo())

    assert response.status_code == 404
    assert stored_token(app, offer) is None


@pytest.mark.parametrize("name", ["../secret-960.webp", "abc-960.webp", f"{'a' * 32}-123.webp"])
def test_only_stored_picture_names_are_served(client, name):
    assert client.get(f"/offers/pictures/{name}").status_code == 404


def test_without_a_picture_the_logo_or_a_placeholder_is_shown(app, client, offer, create_offer):
    html = client.get("/offers/", headers=EN).get_data(as_text=True)
    assert "offer-picture-placeholder" in html
    assert ">LV<" in html

    with app.app_context():
        row = db.session.get(Offer, offer.id)
        row.partner.logo_filename = "0123456789abcdef.png"
        db.session.commit()
        folder = Path(app.config["UPLOAD_FOLDER"]) / "logos"
        folder.mkdir(parents=True, exist_ok=True)
        logo = io.BytesIO()
        Image.new("RGB", (64, 64), (10, 20, 30)).save(logo, format="PNG")
        (folder / "0123456789abcdef.png").write_bytes(logo.getvalue())
        partner_id = row.partner_id

    client = app.test_client()
    html = client.get("/offers/", headers=EN).get_data(as_text=True)
    logo_url = f"/partners/{partner_id}/logo?v=0123456789abcdef"
    assert f'src="{logo_url}"' in html
    assert "Logo of Librairie Voltaire" in html
    served = client.get(logo_url)
    assert served.status_code == 200
    assert "max-age=31536000" in served.headers["Cache-Control"]
    served.close()
    unversioned = client.get(f"/partners/{partner_id}/logo")
    assert "max-age=3600" in unversioned.headers["Cache-Control"]
    unversioned.close()
