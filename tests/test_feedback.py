"""Feedback: stored durably in SQLite through the API, listed by the admin route."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.feedback import FeedbackStore
from kysy.errors import StorageError
from kysy.settings import Settings


def test_feedback_is_stored_in_sqlite_with_a_timestamp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        first = client.post("/api/feedback", json={
            "question": "Mikä on väestöpohja?", "answer": "127 000 [1]", "rating": "up",
        })
        second = client.post("/api/feedback", json={
            "question": "Kuka rahoittaa?", "answer": "En löytänyt.", "rating": "down", "comment": "Väärä vastaus",
        })
    assert first.status_code == 201 and second.status_code == 201
    assert second.json()["id"] == first.json()["id"] + 1
    with sqlite3.connect(settings.feedback_path) as db:
        rows = db.execute("SELECT id, created, question, answer, rating, comment FROM feedback ORDER BY id").fetchall()
    assert [(r[2], r[4], r[5]) for r in rows] == [
        ("Mikä on väestöpohja?", "up", None), ("Kuka rahoittaa?", "down", "Väärä vastaus"),
    ]
    created = datetime.fromisoformat(rows[0][1])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


@pytest.mark.parametrize(
    "payload",
    [
        {"question": "q", "answer": "a", "rating": "meh"},
        {"question": "q", "answer": "a", "rating": "up", "comment": "x" * 2001},
        {"question": "", "answer": "a", "rating": "down"},
        {"answer": "a", "rating": "up"},
    ],
)
def test_invalid_feedback_is_422_and_not_stored(tmp_path, payload: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/feedback", json=payload)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    assert FeedbackStore(settings.feedback_path).recent() == []


def test_a_2000_character_comment_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    new_id = store.add("q", "a", "down", "x" * 2000)
    assert store.recent()[0].id == new_id and len(store.recent()[0].comment or "") == 2000


def test_feedback_survives_a_new_store_and_lists_newest_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "feedback.sqlite"
    FeedbackStore(path).add("eka", "a", "up")
    FeedbackStore(path).add("toka", "b", "down")
    assert [entry.question for entry in FeedbackStore(path).recent()] == ["toka", "eka"]
    assert FeedbackStore(path).recent(limit=1)[0].to_json()["rating"] == "down"


def test_unwritable_data_dir_is_a_storage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot open the feedback store"):
        FeedbackStore(blocker / "feedback.sqlite").add("q", "a", "up")


def test_admin_lists_feedback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = "hallinto" * 5
    settings = Settings(data_dir=tmp_path / "data", admin_token=token)
    with TestClient(create_app(settings)) as client:
        client.post("/api/feedback", json={"question": "Mikä?", "answer": "Tämä.", "rating": "up", "comment": "hyvä"})
        listed = client.get("/api/admin/feedback", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert listed[0]["question"] == "Mikä?" and listed[0]["comment"] == "hyvä" and listed[0]["created"]


def test_feedback_counts_against_the_clients_rate_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=3)
    with TestClient(create_app(settings)) as client:
        statuses = [
            client.post("/api/feedback", json={"question": "q", "answer": "a", "rating": "up"}).status_code
            for _ in range(5)
        ]
    assert statuses == [201, 201, 201, 429, 429]
    assert len(FeedbackStore(settings.feedback_path).recent()) == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"question": "q" * 10_001, "answer": "a", "rating": "up"},
        {"question": "q", "answer": "a" * 20_001, "rating": "up"},
        {"question": "q", "answer": "a", "rating": "down", "comment": "c" * 2001},
    ],
)
def test_oversized_feedback_fields_are_refused(tmp_path, payload: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/feedback", json=payload)
    assert response.status_code in (413, 422) and response.json()["error"] in ("invalid_request", "too_large")
    assert FeedbackStore(settings.feedback_path).recent() == []


def test_a_full_feedback_store_answers_507_and_tells_the_admin(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    token = "k" * 40
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=0, feedback_max_mb=1, admin_token=token)
    store = FeedbackStore(settings.feedback_path)
    for _ in range(60):
        store.add("q" * 10_000, "a" * 20_000, "down")  # about 1.8 MB, past the cap of 1 MB
    with TestClient(create_app(settings)) as client:
        full = client.post("/api/feedback", json={"question": "q", "answer": "a", "rating": "up"})
        assert full.status_code == 507 and full.json()["error"] == "storage_full"
        listing = client.get("/api/admin/feedback", headers={"Authorization": f"Bearer {token}"}).json()
    assert listing["full"] is True and listing["size_bytes"] >= listing["max_bytes"] == 1_000_000
    assert any("feedback refused" in record.message for record in caplog.records)


def test_the_admin_listing_is_paged_and_bounded_in_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = "k" * 40
    settings = Settings(data_dir=tmp_path / "data", admin_token=token, feedback_page_bytes=100_000)
    store = FeedbackStore(settings.feedback_path)
    ids = [store.add(f"kysymys {n}", "v" * 30_000, "up") for n in range(10)]
    seen: list[int] = []
    with TestClient(create_app(settings)) as client:
        before = None
        while True:
            params = {"limit": 1000, **({"before": before} if before else {})}
            response = client.get("/api/admin/feedback", params=params, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and len(response.content) < 120_000
            page = response.json()
            seen += [item["id"] for item in page["items"]]
            before = page["next_before"]
            if before is None:
                break
    assert seen == sorted(ids, reverse=True), "every entry once, newest first"
