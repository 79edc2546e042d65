"""Segment Profile API (docs/design.md §7) through the binding, against the collector's fixture."""

import pytest

import flagwire

FIXTURE = {
    "space_id": "spa_test", "access_token": "tok_test",
    "profiles": [
        {"external_ids": [{"type": "user_id", "id": "u1"}, {"type": "anonymous_id", "id": "anon-1"}],
         "traits": {"plan": "pro", "seats": 12, "Zürich": "✓"},
         "links": [{"type": "group_id", "id": "acme"}]},
        {"external_ids": [{"type": "anonymous_id", "id": "anon-2"}], "traits": {"plan": "free"}},
    ],
}


@pytest.fixture
def profile_client(collector, make_client):
    collector.request("/_test/profiles", FIXTURE)

    def make(**profile):
        settings = {"space_id": "spa_test", "access_token": "tok_test", "endpoint": collector.url, "timeout_ms": 2000}
        settings.update(profile)
        return make_client(profile=settings)

    return make


def test_attributes_and_user_id(profile_client):
    fw = profile_client()
    assert fw.profile_attributes(user_id="u1") == {"plan": "pro", "seats": 12, "Zürich": "✓"}
    assert fw.profile_attributes("user_id:u1") == {"plan": "pro", "seats": 12, "Zürich": "✓"}
    assert fw.profile_user_id(anonymous_id="anon-1") == "u1"
    assert fw.profile_attributes(user_id="nobody") is None
    assert fw.profile_user_id(anonymous_id="anon-2") is None  # a profile without a user_id
    bucketing = profile_client(account_bucketing=True, traits=["plan"])
    assert bucketing.profile_attributes(user_id="u1") == {"plan": "pro", "$opt_bucketing_id": "acme"}


def test_unavailable_is_none(collector, profile_client):
    fw = profile_client(timeout_ms=300)
    collector.request("/_test/profile_script", {"steps": [{"status": 503}]})
    assert fw.profile_attributes(user_id="fresh-miss") is None


def test_errors(make_client, profile_client):
    with pytest.raises(flagwire.ConfigError, match="profile"):
        make_client().profile_attributes(user_id="u1")
    fw = profile_client()
    with pytest.raises(flagwire.InvalidInputError):
        fw.profile_attributes("no-colon")
    with pytest.raises(TypeError):
        fw.profile_attributes()
    with pytest.raises(TypeError):
        fw.profile_attributes("user_id:a", email="b")
