"""The console's Jobs page: start training, the live fragment, cancel, the log; scopes, CSRF
and tenant isolation, over the small demo on SQLite (and once on PostgreSQL)."""

from __future__ import annotations

import re
import time

import pytest
from console_helpers import Console

from tailorcrm.store.jobs import ENDED, JobRecord

FAST = {"steps": ["recommend"]}  # a run that only refits the recommender: a few seconds


def wait_ended(console: Console, job_id: str, timeout: float = 180.0) -> JobRecord:
    deadline = time.monotonic() + timeout
    while True:
        record = console.store.jobs.get(console.tid, job_id)
        if record.status in ENDED:
            return record
        assert time.monotonic() < deadline, f"job {job_id} still {record.status}"
        time.sleep(0.2)


def start(console: Console, data: dict[str, list[str]] | None = None) -> str:
    answer = console.post("/console/jobs/train", data or FAST)
    assert answer.status_code == 303, answer.text
    found = re.search(r"job=([0-9a-f]+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def test_a_read_key_sees_the_page_but_cannot_start_or_cancel(console: Console) -> None:
    console.sign_in("read")
    page = console.client.get("/console/jobs")
    assert page.status_code == 200
    assert 'id="train-form"' not in page.text and 'id="train-read-only"' in page.text
    assert console.post("/console/jobs/train", FAST).status_code == 403
    assert console.store.jobs.active(console.tid, "train") is None
    assert console.post("/console/jobs/abc/cancel").status_code == 403


def test_starting_needs_the_csrf_token(console: Console) -> None:
    console.sign_in("write")
    assert 'id="train-form"' in console.client.get("/console/jobs").text
    answer = console.post("/console/jobs/train", FAST, csrf=False)
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert console.store.jobs.active(console.tid, "train") is None


def test_no_step_ticked_is_refused_as_a_page(console: Console) -> None:
    console.sign_in("write")
    answer = console.post("/console/jobs/train", {})
    assert answer.status_code == 422 and "training step" in answer.text
    answer = console.post("/console/jobs/train", {"steps": ["recommend", "format_disk"]})
    assert answer.status_code == 422
    assert console.store.jobs.active(console.tid, "train") is None


def test_a_run_is_watched_live_until_it_succeeds(console: Console) -> None:
    console.sign_in("write")
    before = console.store.models.active(console.tid, "recommender")
    job_id = start(console)
    # a second start while it runs goes to the running job
    again = console.post("/console/jobs/train", FAST)
    assert again.status_code == 303 and f"job={job_id}" in again.headers["location"]
    assert "busy=1" in again.headers["location"]
    page = console.client.get(f"/console/jobs?job={job_id}")
    assert page.status_code == 200
    if console.store.jobs.get(console.tid, job_id).status not in ENDED:
        assert f'hx-get="/console/jobs/{job_id}/progress"' in page.text
        assert 'hx-trigger="every 1s"' in page.text and 'id="train-busy"' in page.text
        assert 'id="train-form"' not in page.text and 'id="cancel-job"' in page.text
    seen = set()
    deadline = time.monotonic() + 180
    while True:
        fragment = console.client.get(f"/console/jobs/{job_id}/progress",
                                      headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        status = re.search(r'data-status="(\w+)"', fragment.text)
        assert status
        seen.add(status.group(1))
        if status.group(1) in ENDED:
            break
        assert "hx-trigger" in fragment.text  # polls while queued or running
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert status.group(1) == "succeeded", fragment.text
    assert "hx-trigger" not in fragment.text and "hx-get" not in fragment.text  # stops
    assert 'id="cancel-job"' not in fragment.text
    after = console.store.models.active(console.tid, "recommender")
    assert after is not None and before is not None and after.version != before.version
    assert f"recommender {after.version}" in fragment.text
    log = console.client.get("/console/jobs").text
    row = re.search(rf'<tr class="job-row" data-job="{job_id}">(.*?)</tr>', log, re.S)
    assert row and "succeeded" in row.group(1) and re.search(r"\d+\.\d s|\d+ min", row.group(1))
    assert f"recommender {after.version}" in row.group(1)
    assert 'id="train-form"' in log  # free to train again


def test_a_running_job_is_cancelled(console: Console) -> None:
    console.sign_in("write")
    job_id = start(console, {"steps": ["recommend", "precompute", "needs", "segments",
                                       "strategies"]})
    assert console.post(f"/console/jobs/{job_id}/cancel", csrf=False).status_code == 403
    answer = console.post(f"/console/jobs/{job_id}/cancel")
    assert answer.status_code == 303
    record = wait_ended(console, job_id)
    assert record.status == "cancelled"
    fragment = console.client.get(f"/console/jobs/{job_id}/progress",
                                  headers={"HX-Request": "true"}).text
    assert 'data-status="cancelled"' in fragment and 'id="job-error"' in fragment
    assert "cancelled" in re.search(r'id="job-error">([^<]*)<', fragment).group(1)  # type: ignore[union-attr]
    again = console.post(f"/console/jobs/{job_id}/cancel")
    assert again.status_code == 409 and "ended already" in again.text
    assert again.headers["content-type"].startswith("text/html")


def test_another_tenant_sees_none_of_the_jobs(console: Console) -> None:
    console.sign_in("write")
    job_id = start(console)
    wait_ended(console, job_id)
    console.client.cookies.clear()
    console.sign_in(secret=console.keys["other"])
    page = console.client.get("/console/jobs")
    assert page.status_code == 200 and job_id not in page.text and 'id="no-jobs"' in page.text
    assert job_id not in console.client.get(f"/console/jobs?job={job_id}").text
    assert console.client.get(f"/console/jobs/{job_id}/progress").status_code == 404
    assert console.post(f"/console/jobs/{job_id}/cancel").status_code == 404


def test_the_fragment_needs_a_session(console: Console) -> None:
    answer = console.client.get("/console/jobs/x/progress", follow_redirects=False)
    assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
    answer = console.client.get("/console/jobs/x/progress", headers={"HX-Request": "true"})
    assert answer.status_code == 401 and "<html" not in answer.text


@pytest.mark.postgres
def test_the_jobs_page_on_postgres(pg_console: Console) -> None:
    with pg_console.client as client:
        pg = Console(client, pg_console.store, pg_console.tid, pg_console.keys)
        pg.sign_in("write")
        job_id = start(pg)
        record = wait_ended(pg, job_id)
        assert record.status == "succeeded", record.error
        page = client.get("/console/jobs").text
        row = re.search(rf'<tr class="job-row" data-job="{job_id}">(.*?)</tr>', page, re.S)
        assert row and "succeeded" in row.group(1)
        assert f"recommender {record.result['recommender_version']}" in row.group(1)  # type: ignore[index]
