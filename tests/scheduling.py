"""The order in which pytest-xdist hands the suite's tests to its workers: the longest first.

xdist's ``load`` scheduling sends each worker a chunk of consecutive tests in collection order and more as they
run out. The suite's slow tests (a browser driving the officers' app offline, the lossy-network sync, rq's cron)
came wherever their module fell, some in the last minutes: the run waited ~4 min on its last 1% of tests while
the other workers sat idle. Here the tests named in ``LONGEST`` go out first, longest first, one at a time to
whichever worker is free (a worker holds one test beside the one it runs: an xdist worker starts a test only
once it knows the next); then the rest as ``load`` sends them. The same tests run, each once; only where and when
changes.

``LONGEST``: a key names a test, a parametrization or a module (a nodeid prefix; ``prefix*suffix`` for the
nodeids between, e.g. one backend of a module); all the tests a key names go to one worker together (a module
whose tests share a module-scoped fixture stays whole), with the seconds they took in a full run on two cores
(test.sh prints the 30 slowest at the end of every run; the rest scaled from runs of tests/e2e, tests/integration
and tests/field with --durations). The figures only rank them; a test missing from the list runs with the
rest, as before.
"""
from __future__ import annotations

from collections import deque

from xdist.scheduler import LoadScheduling

LONGEST: dict[str, float] = {
    # the network dropping requests and answers between an officer's phone and the server
    "tests/integration/test_lossy_sync.py::test_a_lossy_network_loses_and_doubles_nothing[postgresql]": 92,
    "tests/integration/test_lossy_sync.py::test_a_lossy_network_loses_and_doubles_nothing[sqlite]": 30,
    "tests/integration/test_reminders.py::test_reminders_fire_from_rq_cron_and_a_real_worker_with_the_clock_moved_forward[postgresql]": 47,
    "tests/integration/test_reminders.py::test_reminders_fire_from_rq_cron_and_a_real_worker_with_the_clock_moved_forward[sqlite]": 34,
    # real rq workers, gunicorn, S3 and concurrent writers
    "tests/integration/test_media_s3.py::test_an_rq_worker_with_a_disk_of_its_own_processes_a_photo_from_s3[postgresql]": 34,
    "tests/integration/test_media_s3.py::test_an_rq_worker_with_a_disk_of_its_own_processes_a_photo_from_s3[sqlite]": 18,
    "tests/integration/test_jobs.py::test_rq_worker_runs_jobs_with_retries_on_real_redis[sqlite]": 20,
    "tests/integration/test_jobs.py::test_rq_worker_runs_jobs_with_retries_on_real_redis[postgresql]": 14,
    "tests/integration/test_two_app_servers.py": 18,
    "tests/integration/test_concurrent_draws.py::test_concurrent_commits_and_draws[postgresql]": 13,
    "tests/integration/test_media_uploads.py::test_photos_are_processed_by_an_rq_worker_when_redis_is_configured[postgresql]": 10,
    "tests/integration/test_media_uploads.py::test_photos_are_processed_by_an_rq_worker_when_redis_is_configured[sqlite]": 9,
    "tests/integration/test_gunicorn.py": 9,
    "tests/integration/test_docs_examples.py::test_the_parts_of_an_inspection_are_those_of_the_text[sqlite]": 9,
    "tests/field/test_jobs_while_phones_push.py::test_jobs_complete_while_ten_phones_push[sqlite]": 12,
    "tests/field/test_jobs_while_phones_push.py::test_jobs_complete_while_ten_phones_push[postgresql]": 7,
    "tests/field/test_reinspections.py::test_a_reinspection_is_pushed_from_the_phones_and_closes_its_followup[postgresql]": 11,
    "tests/field/test_pdf.py::test_the_job_emits_a_change_so_a_phone_already_up_to_date_learns_the_pdf[sqlite]": 10,
    "tests/field/test_pdf.py::test_a_missing_font_answers_a_clear_error_and_the_job_can_be_run_again[sqlite]": 9,
    "tests/field/test_pdf.py::test_a_missing_font_answers_a_clear_error_and_the_job_can_be_run_again[postgresql]": 9,
    "tests/field/test_pdf_jobs.py::test_the_draft_is_made_by_a_job_once_per_content[sqlite]": 8,
    "tests/unit/test_pdf_assets.py::test_the_default_font_is_wenquanyi_zen_hei": 8,
    # the browser tests (a live server and Chromium each)
    "tests/e2e/test_pwa_field.py::test_two_officers_offline_then_the_lead_submits[flaky]": 49,
    "tests/e2e/test_pwa_field.py::test_two_officers_offline_then_the_lead_submits[direct]": 41,
    "tests/e2e/test_pwa_tabs.py": 45,
    "tests/e2e/test_office_admin.py": 40,
    "tests/e2e/test_office_publish_figures.py::test_a_supervisor_drills": 40,
    "tests/e2e/test_pwa_signing.py::test_a_wrong_cosigning_password": 35,
    "tests/e2e/test_pwa_capture.py::test_offline_photos_and_text_survive": 33,
    "tests/e2e/test_pwa_contract.py::test_an_upload_head_answering_401": 30,
    "tests/e2e/test_office_planning.py::test_planner_from_an_empty_task": 27,
    "tests/e2e/test_office_planning.py::test_a_committed_draw_reopened": 27,
    "tests/e2e/test_office_planning.py::test_plan_draft_approve_publish": 22,
    "tests/e2e/test_office_publish_figures.py::test_a_publisher_publishes": 23,
    "tests/e2e/test_draw_verify_page.py": 23,   # (one server and one browser for the module)
    "tests/e2e/test_portal.py::*[postgresql]": 22,
    "tests/e2e/test_portal.py::*[sqlite]": 20,
    "tests/e2e/test_office_publish_figures.py::test_a_participant_publisher": 20,
    "tests/e2e/test_pwa_signing.py::test_the_merge_invents_no_time": 19,
    "tests/e2e/test_pwa_reinspection.py::test_the_office_task_page": 18,
    "tests/e2e/test_pwa_reinspection.py::test_a_scheduled_reinspection": 16,
    "tests/e2e/test_pwa_contract.py::test_a_provisional_due_date": 17,
    "tests/e2e/test_pwa_contract.py::test_one_device_too_many": 16,
    "tests/e2e/test_pwa_capture.py::test_two_tabs_one_edits": 16,
    "tests/e2e/test_pwa_a11y.py": 16,
    "tests/e2e/test_pwa_signing.py::test_a_planner_is_told": 15,
    "tests/e2e/test_office_planning.py::test_an_expert_is_attached": 15,
    "tests/e2e/test_office_shell.py": 12,
    "tests/e2e/test_pwa_contract.py::test_a_late_recusal": 11,
    # a World built and ~300 hostile requests sent, twice over for the correction
    "tests/api/test_no_500.py::test_no_input_gives_a_500[sqlite-POST /api/v1/publication/inspections/{led_published}/correct]": 23,
    "tests/api/test_no_500.py::test_no_input_gives_a_500[postgresql-POST /api/v1/publication/inspections/{led_published}/correct]": 23,
    # the demo county seeded once per module and backend (module-scoped), and again by the tests that change it
    "tests/unit/test_demo_seed.py::*[sqlite]": 40,
    "tests/unit/test_demo_seed.py::*[postgresql]": 40,
}


def key_of(nodeid: str) -> str | None:
    """The longest key of ``LONGEST`` naming the test, None when none does."""
    best = None
    for key in LONGEST:
        head, star, tail = key.partition("*")
        if nodeid.startswith(head) and (not star or nodeid.endswith(tail) and len(nodeid) >= len(head) + len(tail)):
            if best is None or len(key) > len(best):
                best = key
    return best


class LongestFirst(LoadScheduling):
    """``load`` scheduling with the tests of ``LONGEST`` sent first, key by key, longest first."""

    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        self.groups: deque[int] = deque()   # the sizes of the keys' groups at the head of ``pending``

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            super().schedule()
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection = next(iter(self.node2collection.values()))
        nodes = self.nodes
        if len(collection) < 2 * len(nodes):   # fewer than two a worker: xdist's own way
            super().schedule()
            return
        self.collection = collection
        if self.maxschedchunk is None:
            self.maxschedchunk = len(collection)
        groups: dict[str, list[int]] = {}
        for i, nodeid in enumerate(collection):
            key = key_of(nodeid)
            if key is not None:
                groups.setdefault(key, []).append(i)
        order = sorted(groups, key=lambda k: -LONGEST[k])
        grouped = {i for indexes in groups.values() for i in indexes}
        self.pending[:] = [i for k in order for i in groups[k]] + [i for i in range(len(collection))
                                                                     if i not in grouped]
        self.groups = deque(len(groups[k]) for k in order)
        # one to each worker, then one more in the reverse order (the longest with the shortest of the first 2N),
        # then whichever worker finishes first takes the next
        for node in nodes + nodes[::-1]:
            self._send_next(node)
        for node in nodes:
            while len(self.node2pending[node]) < 2 and self.pending:
                self._send_next(node)
        if not self.pending:
            for node in nodes:
                node.shutdown()

    def _send_next(self, node) -> None:
        """The next key's tests, or the next test when no key is left."""
        self._send_tests(node, self.groups.popleft() if self.groups else 1)

    def check_schedule(self, node, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if self.groups:
            while len(self.node2pending[node]) < 2 and self.groups:
                self._send_next(node)
            if len(self.node2pending[node]) >= 2:
                return
        super().check_schedule(node, duration)
