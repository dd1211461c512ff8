"""Account services and the security settings they rely on."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask

from marketplace.accounts import evidence, second_factor, services
from marketplace.accounts.models import AlumniProfile, User
from marketplace.config import build_config
from marketplace.errors import Conflict, InvalidInput
from marketplace.extensions import db
from marketplace.i18n import country_choices
from marketplace.security import hash_password, verify_password
from tests.accounts.helpers import PDF
from tests.conftest import PASSWORD, totp_now


@pytest.fixture
def default_config_app(tmp_path) -> Flask:
    """A bare app with the default (non-test) configuration."""
    app = Flask(__name__)
    app.config.update(build_config(str(tmp_path)))
    return app


def test_default_configuration_hashes_with_argon2id_at_least_argon2_cffi_defaults(
    default_config_app,
):
    with default_config_app.app_context():
        digest = hash_password("correct horse battery staple")
        assert verify_password(digest, "correct horse battery staple")
        assert not verify_password(digest, "correct horse battery stapl")
    match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", digest)
    assert match, digest
    memory, time_cost, parallelism = map(int, match.groups())
    assert memory >= 65536
    assert time_cost >= 3
    assert parallelism >= 4


def test_default_upload_limit_is_five_megabytes(default_config_app):
    assert default_config_app.config["MAX_UPLOAD_BYTES"] == 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (PDF, "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 16, "image/jpeg"),
    ],
)
def test_store_evidence_accepts_pdf_png_jpeg_by_content(app, content, content_type):
    with app.app_context():
        name, detected = evidence.store_evidence(io.BytesIO(content), "whatever.txt")
        path = evidence.evidence_path(AlumniProfile(evidence_filename=name))
        assert detected == content_type
        assert path.read_bytes() == content
        evidence.delete_evidence(name)
        assert not path.exists()


def test_store_evidence_refuses_other_content(app):
    with app.test_request_context(), pytest.raises(services.InvalidUpload):
        evidence.store_evidence(io.BytesIO(b"GIF89a...."), "diploma.pdf")


def test_delete_evidence_stays_in_the_evidence_folder(app, tmp_path):
    outside = tmp_path / "keep.txt"
    outside.write_text("keep")
    with app.app_context():
        evidence.delete_evidence(f"../../../../../../{outside}")
    assert outside.exists()


def test_register_alumnus_with_a_taken_address_returns_none(app, create_user, school):
    create_user("taken@example.org")
    with app.test_request_context():
        result = services.register_alumnus(
            services.Registration(
                full_name="X",
                email="Taken@Example.org",
                password="a long enough passphrase",
                school_id=school.id,
                graduation_year=2000,
                country="fr",
                city="Paris",
            )
        )
        assert result is None


def test_account_tokens_are_single_use(app, create_user):
    user = create_user()
    with app.test_request_context():
        stored = db.session.get(User, user.id)
        token = services.issue_account_token(stored, services.CONFIRM)
        assert services.check_account_token(token, services.CONFIRM).id == user.id
        # Checking does not use it up; the purpose must match.
        with pytest.raises(services.InvalidToken):
            services.check_account_token(token, services.RESET)
        assert services.consume_account_token(token, services.CONFIRM).id == user.id
        with pytest.raises(services.InvalidToken):
            services.consume_account_token(token, services.CONFIRM)
        with pytest.raises(services.InvalidToken):
            services.check_account_token(token, services.CONFIRM)


def test_totp_codes_are_checked_once_and_recovery_codes_renewed(app, create_user):
    user = create_user(roles=("moderator",))
    with app.test_request_context():
        stored = db.session.get(User, user.id)
        code = totp_now()
        assert second_factor.check_totp(stored, code)
        assert not second_factor.check_totp(stored, code)
        old = second_factor.new_recovery_codes(stored)
        with pytest.raises(InvalidInput):
            second_factor.regenerate_recovery_codes(stored, code="123456")
        new = second_factor.regenerate_recovery_codes(stored, code=old[0])
        assert not second_factor.check_totp(stored, old[1])
        assert second_factor.check_totp(stored, f" {new[1].upper()} ")
        assert second_factor.remaining_recovery_codes(stored) == 9


def test_enrolment_cannot_restart_once_active(app, create_user):
    user = create_user(roles=("admin",))
    with app.test_request_context():
        stored = db.session.get(User, user.id)
        with pytest.raises(Conflict):
            second_factor.start_totp_enrolment(stored, password=PASSWORD)
        with pytest.raises(Conflict):
            second_factor.confirm_totp_enrolment(stored, totp_now(), token="unused")


def test_two_factor_is_for_staff(app, create_user):
    staff = create_user(roles=("treasurer",))
    alumnus = create_user(alumni=True)
    with app.app_context():
        assert services.needs_two_factor(db.session.get(User, staff.id))
        assert not services.needs_two_factor(db.session.get(User, alumnus.id))


def test_school_lookup_ignores_case_and_spaces_but_not_inactive_schools(app, create_school):
    school = create_school(name="Lycée Molière")
    with app.app_context():
        assert services.find_active_school("  lycée molière ").id == school.id
        assert services.find_active_school("Lycée") is None
        db.session.get(type(school), school.id).active = False
        db.session.flush()
        assert services.find_active_school("Lycée Molière") is None
        assert school.id not in {row.id for row in services.active_schools()}
        db.session.rollback()


@pytest.mark.parametrize(("locale", "name"), [("en", "Germany"), ("fr", "Allemagne")])
def test_country_list_is_alpha_2_in_the_readers_language(app, locale, name):
    with app.test_request_context(headers={"Accept-Language": locale}):
        choices = dict(country_choices())
    assert choices["DE"] == name
    assert all(len(code) == 2 and code.isalpha() and code.isupper() for code in choices)
    assert "EU" not in choices
    assert "ZZ" not in choices
    assert len(choices) > 240
