"""The access alert (rights.md): more than the limit of re-identifications and disclosure reports by one user
in a day, counted since the previous night finished — by place in the audit log, whose stamps are seconds."""

from pipelines.rights.requests import access_alerts

SECOND = "2026-12-01T03:00:00+00:00"  # 12:00 in Tokyo
LATER = "2026-12-01T03:01:00+00:00"


def entry(event: str, at: str = SECOND, user: str = "kato") -> dict:
    return {"event": event, "at": at, "details": {"user": user} if event in ("reidentify", "disclosure") else {}}


def night() -> list[dict]:
    return [entry("run_started"), entry("run_finished")]


def test_requests_in_the_second_the_previous_night_finished_are_tonights():
    # this night starts a minute later: only the stamps of the requests equal the previous night's end
    log = night() + [entry("disclosure")] + [entry("reidentify")] * 20 + [entry("run_started", LATER)]
    assert access_alerts(log, 20) == [{"user": "kato", "day": "2026-12-01", "requests": 21, "limit": 20}]


def test_the_limit_itself_is_no_alert_and_users_are_counted_apart():
    log = night() + [entry("reidentify")] * 20 + [entry("reidentify", user="sato")] * 3 + [entry("run_started")]
    assert access_alerts(log, 20) == []


def test_a_day_alerted_before_is_not_alerted_again_without_new_requests():
    yesterday = "2026-11-30T03:00:00+00:00"
    log = [entry("reidentify", yesterday)] * 25 + night() + [entry("reidentify")] * 15 + [entry("run_started", LATER)]
    assert access_alerts(log, 20) == []  # yesterday's 25 were the previous night's alert; today 15
    # …but the whole log counts before any night has run, and this night's end does not reset it
    assert access_alerts([entry("reidentify")] * 21, 20)[0]["requests"] == 21
    assert access_alerts(night()[:1] + [entry("reidentify")] * 21 + [entry("run_finished")], 20)[0]["requests"] == 21


def test_a_day_split_by_the_night_is_still_one_day():
    # 1 December in Tokyo: 10 requests at 01:00, the 02:00 night, 15 more at noon; then the next night
    one_am, noon = "2026-11-30T16:00:00+00:00", "2026-12-01T03:00:00+00:00"
    log = ([entry("reidentify", one_am)] * 10 + [entry("run_started", "2026-11-30T17:00:00+00:00"),
                                                   entry("run_finished", "2026-11-30T17:05:00+00:00")]
           + [entry("reidentify", noon)] * 15 + [entry("run_started", "2026-12-01T17:00:00+00:00")])
    assert access_alerts(log[:11], 20) == []  # the night at 02:00 saw 10
    assert access_alerts(log, 20) == [{"user": "kato", "day": "2026-12-01", "requests": 25, "limit": 20}]


def test_a_day_is_a_day_in_tokyo():
    before, after = "2026-12-01T14:59:59+00:00", "2026-12-01T15:00:00+00:00"  # 23:59:59 and 00:00 in Tokyo
    log = night() + [entry("reidentify", before)] * 11 + [entry("reidentify", after)] * 11 + [entry("run_started")]
    assert access_alerts(log, 20) == []
    log = night() + [entry("reidentify", after)] * 21
    assert [a["day"] for a in access_alerts(log, 20)] == ["2026-12-02"]
